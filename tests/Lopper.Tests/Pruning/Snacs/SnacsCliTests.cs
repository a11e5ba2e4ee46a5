using System.Text.Json.Nodes;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;

using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Pruning.Snacs;

/// <summary>`lopper prune snacs` and `lopper bench snacs-estimator` end to end on tiny inputs.</summary>
[Collection(ConsoleCollection.Name)]
public class SnacsCliTests
{
    [Fact]
    public void PruneSnacsMeetsTheBudgetAndRecordsPerLayerFigures()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 60, 20);
        var run = TrainTiny(dir, "lenet5", data);

        var pruned = dir.File("pruned");
        var (code, output, err) = Run("prune", "snacs", "--from", run, "--out", pruned, "--probe-per-class", "5", "--ul-probe-per-class", "3",
            "--groups", "4", "--target-params", "0.5", "--ul-step", "0.24", "--beta", "1", "--protect", "0.1", "--finetune-epochs", "1", "--batch-size", "20",
            "--latency-batch", "2", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("conv2->fc1", err);
        // beta 1 lets every pair go to the top of the grid, so the upper limits cannot block the budget on this tiny net.
        var p = JsonNode.Parse(output)!;
        Assert.Equal("snacs", (string)p["method"]!);
        Assert.True((long)p["params_after"]! <= 0.5 * (long)p["params_before"]!);
        Assert.True((long)p["macs_after"]! < (long)p["macs_before"]!);
        var details = JsonNode.Parse(File.ReadAllText(Path.Combine(pruned, "run.json")))!["details"]!;
        Assert.True((bool)details["target_met"]!);
        var layers = details["layers"]!.AsArray();
        Assert.Equal(4, layers.Count);
        foreach (var l in layers)
        {
            Assert.InRange((double)l!["upper_limit"]!, 0.01, 0.97);
            Assert.InRange((double)l["pruned_fraction"]!, 0, 1);
        }
        Assert.True((double)details["seconds"]!["estimator"]! >= 0);
        // The saved model loads and evaluates.
        (code, _, err) = Run("eval", "--from", pruned, "--json", "--threads", "1");
        Assert.True(code == 0, err);

        foreach (var bad in new[]
        {
            new[] { "--quantile", "0.5", "--target-params", "0.5" },
            new[] { "--quantile", "0.5", "--sensitivity", "middle" },
            new[] { "--quantile", "1.5" },
            new[] { "--quantile", "0.5", "--estimator", "knn" },
            Array.Empty<string>(),
        })
        {
            (code, _, err) = Run(["prune", "snacs", "--from", run, "--out", dir.File("x"), .. bad]);
            Assert.True(code == 2, $"{string.Join(' ', bad)}: exit {code}, {err}");
        }
    }

    [Fact]
    public void BenchSnacsEstimatorReportsBothTimesAndTheirRatio()
    {
        var (code, output, err) = Run("bench", "snacs-estimator", "--groups", "2", "--probe-per-class", "6", "--in", "16", "--out", "8", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        var r = JsonNode.Parse(output)!;
        Assert.Equal(60, (int)r["samples"]!);
        Assert.Equal(4, (int)r["calls"]!);
        Assert.True((double)r["ratio_mint_over_snacs"]! > 0);
        (code, _, _) = Run("bench", "snacs-estimator", "--estimators", "hash,edge");
        Assert.Equal(2, code);
    }
}
