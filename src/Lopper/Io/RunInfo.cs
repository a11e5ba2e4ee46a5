using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json.Nodes;

namespace Lopper.Io;

/// <summary>What every run records about where and how it ran, so its numbers can be trusted and repeated.</summary>
public static class RunInfo
{
    private static string? Informational => typeof(RunInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    /// <summary>Lopper's version.</summary>
    public static string Version => Informational?.Split('+')[0] ?? "0.0.0";

    /// <summary>
    /// The source commit the build was made from (the SDK appends it to the informational version when it builds from
    /// a git checkout), or null: the version alone does not tell two builds of one day apart.
    /// </summary>
    public static string? Commit => Informational?.Split('+') is [_, { Length: > 0 } commit] ? commit : null;

    /// <summary>Seed, versions, threads and machine as a JSON object.</summary>
    public static JsonObject Environment(ulong seed)
    {
        string cpu = "unknown";
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null) cpu = line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return new JsonObject
        {
            ["seed"] = seed,
            ["lopper_version"] = Version,
            ["lopper_commit"] = Commit,
            ["dotnet_version"] = System.Environment.Version.ToString(),
            ["os"] = RuntimeInformation.OSDescription,
            ["cpu"] = cpu,
            ["cores"] = System.Environment.ProcessorCount,
            ["threads"] = Parallelism.Threads,
            ["simd"] = Vector512.IsHardwareAccelerated ? "avx512" : Vector256.IsHardwareAccelerated ? "avx2" : "scalar",
            ["machine"] = System.Environment.MachineName,
            ["started_utc"] = DateTime.UtcNow.ToString("o"),
        };
    }
}
