using System.Text.Json.Nodes;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;

using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Pruning;

/// <summary>`lopper prune spp` end to end on a tiny IDX dataset; console redirection needs the serial collection.</summary>
[Collection(ConsoleCollection.Name)]
public class SppCliTests
{
    [Fact]
    public void PruneSppCompactsToTheSpeedupTarget()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 40, 20);
        var run = TrainTiny(dir, "lenet5", data);

        var pruned = dir.File("pruned");
        var (code, output, err) = Run("prune", "spp", "--from", run, "--out", pruned, "--target-speedup", "1.5", "--interval", "1", "--A", "0.5",
            "--prune-epochs", "2", "--batch-size", "20", "--latency-batch", "2", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("SPP iteration", err);
        Assert.Equal("spp", (string)JsonNode.Parse(output)!["method"]!);
        var details = JsonNode.Parse(File.ReadAllText(Path.Combine(pruned, "run.json")))!["details"]!;
        Assert.True((double)details["conv_mac_speedup"]! >= 1.5 - 1e-9);
        Assert.All(details["layers"]!.AsArray(), l => Assert.True((int)l!["pruned_columns"]! >= (int)l["target_columns"]!));

        (code, _, err) = Run("prune", "spp", "--from", run, "--out", dir.File("x"), "--target-speedup", "2", "--ratios", "conv1=0.5");
        Assert.Equal(2, code);
        Assert.Contains("exactly one of --target-macs F, --target-speedup S or --ratios", err);
    }
}
