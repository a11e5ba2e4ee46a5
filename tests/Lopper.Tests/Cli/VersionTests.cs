using System.Reflection;
using Lopper.Io;

using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Cli;

/// <summary>`lopper --version`, and the single version the library packages and the tool share.</summary>
[Collection(ConsoleCollection.Name)]
public class VersionTests
{
    private static string Informational(Assembly a) => a.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;

    [Fact]
    public void VersionPrintsTheToolsVersionAndItsInformationalVersion()
    {
        var (code, output, err) = Run("--version");
        Assert.Equal(0, code);
        Assert.Equal("", err);
        string info = Informational(typeof(Lopper.Cli.Cli).Assembly);
        Assert.Equal($"lopper {info.Split('+')[0]} ({info})", output.TrimEnd());
        // run.json records the library's version; it must be the tool's, since both are set once (Directory.Build.props).
        Assert.Equal(RunInfo.Version, info.Split('+')[0]);
        Assert.Matches(@"^\d+\.\d+\.\d+$", RunInfo.Version);
    }

    [Fact]
    public void EveryShippedAssemblyHasTheSameVersion()
    {
        Assembly[] shipped =
        [
            typeof(Lopper.Cli.Cli).Assembly, typeof(RunInfo).Assembly, typeof(Lopper.Onnx.Export.OnnxExporter).Assembly,
            typeof(Lopper.Onnx.Runtime.OrtModel).Assembly, typeof(Lopper.Imaging.SkiaImageDecoder).Assembly,
        ];
        Assert.Single(shipped.Select(a => Informational(a).Split('+')[0]).Distinct());
    }

    [Fact]
    public void VersionWithOtherArgumentsIsNotTheVersionFlag()
    {
        // Only a bare --version prints the version; after a command it is that command's (unknown) flag.
        var (code, output, _) = Run("inspect", "--version");
        Assert.Equal(2, code);
        Assert.DoesNotContain("lopper 0.", output);
    }
}
