using System.Text.Json.Nodes;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;

using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Pruning;

/// <summary>`lopper prune srinit` end to end on a tiny IDX dataset.</summary>
[Collection(ConsoleCollection.Name)]
public class SrInitCliTests
{
    [Fact]
    public void PruneSrInitWritesTheDropTable()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 40, 20);
        var run = TrainTiny(dir, "resnet20", data);

        var pruned = dir.File("pruned");
        var (code, output, err) = Run("prune", "srinit", "--from", run, "--out", pruned, "--blocks", "2", "--probe-per-class", "3", "--donor-seeds", "2", "--reset-bn-batches", "1",
            "--finetune-epochs", "1", "--batch-size", "20", "--latency-batch", "2", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("reset acc", err);
        Assert.Contains("layer3.2", err);
        var p = JsonNode.Parse(output)!;
        Assert.Equal("srinit", (string)p["method"]!);
        Assert.True((long)p["params_after"]! < (long)p["params_before"]!);
        var details = JsonNode.Parse(File.ReadAllText(Path.Combine(pruned, "run.json")))!["details"]!;
        Assert.Equal(30, (int)details["probe_images"]!);
        Assert.Equal(2, details["donor_seeds"]!.AsArray().Count);
        var rows = details["blocks"]!.AsArray();
        Assert.Equal(9, rows.Count);
        Assert.Equal(2, rows.Count(r => (bool)r!["removed"]!));

        (code, _, err) = Run("prune", "srinit", "--from", run, "--out", dir.File("x"), "--tau", "0.1", "--criterion", "random");
        Assert.Equal(2, code);
        Assert.Contains("--tau applies to --criterion srinit only", err);
    }
}
