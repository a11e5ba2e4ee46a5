using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json.Nodes;

namespace Lopper.Io;

/// <summary>What every run records about where and how it ran, so its numbers can be trusted and repeated.</summary>
public static class RunInfo
{
    /// <summary>Lopper's version.</summary>
    public static string Version => typeof(RunInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

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
