using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;

using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Pruning.ComplexityAware;

/// <summary>`lopper train --method complexity-aware` and `lopper prune complexity-aware` end to end on a tiny IDX dataset.</summary>
[Collection(ConsoleCollection.Name)]
public class ComplexityAwareCliTests
{
    private static readonly string[] Tiny = ["--batch-size", "20", "--threads", "1", "--json"];

    [Fact]
    public void TrainPrunesWhileTrainingSavesAGateFreeModelAndResumes()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 60, 20);
        var run = dir.File("run");
        var (code, output, err) = Run(["train", "--model", "lenet5", "--epochs", "1", "--data", data, "--out", run, "--method", "complexity-aware",
            "--strength", "50", "--gate-lr", "20", "--check-every", "1", "--zero-checks", "1", "--gate-warmup", "0", .. Tiny]);
        Assert.True(code == 0, err);
        Assert.Contains("gates: ", err);
        Assert.Contains("M MACs", err);
        var r = JsonNode.Parse(output)!;
        var ca = r["complexity_aware"]!;
        Assert.True((bool)ca["gates_folded"]!);
        Assert.True((double)ca["macs_kept"]! < 1.0, output);
        Assert.Equal(50.0, (double)ca["strength"]!);
        Assert.DoesNotContain("\"gate\"", File.ReadAllText(Path.Combine(run, ModelStore.GraphFile)));
        var saved = ModelStore.Load(run);
        Assert.Equal((long)r["macs"]!, saved.Graph.Macs());
        var history = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "run.json")))!["history"]!.AsArray();
        Assert.True((long)history[0]!["macs"]! < (long)ca["dense_macs"]!);
        Assert.True((double)history[0]!["train_seconds"]! > 0);

        // Resume continues the same method from the saved settings (gates go back in on the compact model).
        (code, output, err) = Run("train", "--resume", run, "--epochs", "2", "--threads", "1", "--json");
        Assert.True(code == 0, err);
        Assert.Equal(2, (int)JsonNode.Parse(output)!["epochs"]!);
        Assert.True((long)JsonNode.Parse(output)!["macs"]! <= (long)r["macs"]!);
        Assert.DoesNotContain("\"gate\"", File.ReadAllText(Path.Combine(run, ModelStore.GraphFile)));

        (code, _, err) = Run("train", "--resume", run, "--epochs", "3", "--strength", "2");
        Assert.Equal(2, code);
        Assert.Contains("come from the saved run", err);
    }

    [Fact]
    public void PruneFromATrainedModelAndBadFlagsExitTwo()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 40, 20);
        var run = dir.File("run");
        var (code, _, err) = Run(["train", "--model", "lenet5", "--epochs", "1", "--data", data, "--out", run, .. Tiny]);
        Assert.True(code == 0, err);

        var pruned = dir.File("pruned");
        (code, var output, err) = Run(["prune", "complexity-aware", "--from", run, "--out", pruned, "--gate-epochs", "1", "--lr", "0.05",
            "--strength", "30", "--flops-vs-params", "0.9", "--check-every", "1", "--zero-checks", "1", "--gate-warmup", "0", "--latency-batch", "2", .. Tiny]);
        Assert.True(code == 0, err);
        Assert.Contains("gate epoch 1/1", err);
        var p = JsonNode.Parse(output)!;
        Assert.Equal("complexity-aware", (string)p["method"]!);
        Assert.True((long)p["macs_after"]! < (long)p["macs_before"]!, output);
        Assert.DoesNotContain("\"gate\"", File.ReadAllText(Path.Combine(pruned, ModelStore.GraphFile)));
        var details = JsonNode.Parse(File.ReadAllText(Path.Combine(pruned, "run.json")))!["details"]!;
        Assert.Equal(1, (int)details["gate_epochs"]!);
        Assert.NotEmpty(details["removals"]!.AsArray());

        (code, _, err) = Run("prune", "complexity-aware", "--from", run, "--out", dir.File("x"), "--flops-vs-params", "1.5");
        Assert.Equal(2, code);
        Assert.Contains("--flops-vs-params", err);
        (code, _, err) = Run("train", "--model", "lenet5", "--data", data, "--strength", "1");
        Assert.Equal(2, code);
        Assert.Contains("need --method complexity-aware", err);
        (code, _, err) = Run("train", "--model", "lenet5", "--data", data, "--method", "gates");
        Assert.Equal(2, code);
        Assert.Contains("--method", err);
    }

    [Fact]
    public void ATargetSteersTheStrengthAndTheFoldMeetsIt()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 100, 20);
        var run = dir.File("run");
        var (code, _, err) = Run(["train", "--model", "lenet5", "--epochs", "1", "--data", data, "--out", run, .. Tiny]);
        Assert.True(code == 0, err);
        foreach (double target in new[] { 0.5, 0.3 })
        {
            var pruned = dir.File($"pruned-{target}");
            (code, var output, err) = Run(["prune", "complexity-aware", "--from", run, "--out", pruned, "--gate-epochs", "2", "--lr", "0.05",
                "--target-macs", target.ToString(System.Globalization.CultureInfo.InvariantCulture), "--latency-batch", "2", .. Tiny]);
            Assert.True(code == 0, err);
            var p = JsonNode.Parse(output)!;
            double kept = (double)(long)p["macs_after"]! / (long)p["macs_before"]!;
            // Met, and not by deleting far more than asked.
            Assert.InRange(kept, target - 0.15, target);
            var details = JsonNode.Parse(File.ReadAllText(Path.Combine(pruned, "run.json")))!["details"]!;
            Assert.Equal(target, (double)details["target_macs"]!);
            Assert.True((double)details["history"]![0]!["strength"]! > 0);
        }
        (code, _, err) = Run("prune", "complexity-aware", "--from", run, "--out", dir.File("x"), "--target-macs", "0.5", "--target-params", "0.5");
        Assert.Equal(2, code);
        Assert.Contains("give at most one of --target-macs and --target-params", err);
    }
}
