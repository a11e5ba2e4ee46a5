using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Tensors;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;

using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Optim;

/// <summary>`lopper train --optimizer grda` end to end on a tiny dataset.</summary>
[Collection(ConsoleCollection.Name)]
public class GrdaCliTests
{
    [Fact]
    public void TrainWithGrdaReportsSparsityAndWritesACompactedEquivalent()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 128, 32);
        var run = dir.File("run");
        var (code, output, err) = Run("train", "--model", "lenet5", "--epochs", "1", "--batch-size", "32", "--data", data, "--out", run,
            "--optimizer", "grda", "--grda-c", "1", "--grda-mu", "0.6", "--lr", "0.05", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("sparsity", err);
        var o = JsonNode.Parse(output)!;
        var g = o["grda"]!;
        double sparsity = (double)g["sparsity"]!;
        Assert.InRange(sparsity, 1e-6, 1.0);
        Assert.InRange((double)g["params_kept"]!, 0.0, 1.0);
        Assert.InRange((double)g["macs_kept"]!, 0.0, 1.0);
        Assert.InRange((double)g["compacted_unstructured_sparsity"]!, 0.0, 1.0);

        var runJson = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "run.json")))!;
        Assert.Equal(sparsity, (double)runJson["history"]![0]!["sparsity"]!);
        Assert.Equal(0.0, (double)runJson["config"]!["momentum"]!);
        Assert.Equal(0.0, (double)runJson["config"]!["weight_decay"]!);
        Assert.Equal(1.0, (double)runJson["config"]!["grda_c"]!);

        // The compacted copy computes what the trained model computes.
        var trained = ModelStore.Load(run);
        var compact = ModelStore.Load(Path.Combine(run, "compacted"));
        Assert.Equal((long)g["compacted_params"]!, compact.ParameterCount());
        var rng = new Rng(9);
        var x = new Tensor(2, 1, 28, 28);
        for (int i = 0; i < x.Length; i++) x.Data[i] = (float)rng.NextNormal();
        var y0 = new Executor(trained).Forward(x, training: false, forBackward: false).Data.ToArray();
        var y1 = new Executor(compact).Forward(x, training: false, forBackward: false).Data.ToArray();
        for (int i = 0; i < y0.Length; i++) Assert.Equal(y0[i], y1[i], 1e-4f);

        // Resume continues the gRDA state (threshold and accumulators come from optimizer.safetensors).
        (code, output, err) = Run("train", "--resume", run, "--epochs", "2", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.NotNull(JsonNode.Parse(output)!["grda"]);
    }

    [Theory]
    [InlineData("no momentum", "--optimizer", "grda", "--momentum", "0.9")]
    [InlineData("no momentum", "--optimizer", "grda", "--weight-decay", "1e-4")]
    [InlineData("need --optimizer grda", "--grda-c", "0.01")]
    [InlineData("--grda-cover must be", "--optimizer", "grda", "--grda-cover", "some")]
    [InlineData("need --optimizer grda", "--grda-target-macs", "0.5")]
    [InlineData("--grda-target-macs must be in (0, 1], got 0", "--optimizer", "grda", "--grda-structure", "channels", "--grda-target-macs", "0")]
    [InlineData("--grda-target-macs must be given only with --grda-structure channels", "--optimizer", "grda", "--grda-target-macs", "0.5")]
    [InlineData("need --optimizer grda", "--grda-target-params", "0.5")]
    [InlineData("--grda-target-params sets the threshold itself: drop --grda-c and --grda-mu", "--optimizer", "grda", "--grda-target-params", "0.5", "--grda-c", "0.01")]
    [InlineData("--grda-target-params must be given only with --grda-structure none", "--optimizer", "grda", "--grda-structure", "channels", "--grda-target-params", "0.5")]
    public void BadGrdaFlagsAreOneLineErrors(string message, params string[] flags)
    {
        var (code, _, err) = Run(["train", "--model", "lenet5", "--data", "/nonexistent/lopper-data", .. flags]);
        Assert.NotEqual(0, code);
        Assert.Contains(message, err);
    }
}
