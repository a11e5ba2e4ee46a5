using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Tensors;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;

namespace Lopper.Tests.Optim;

/// <summary>`lopper train --optimizer grda` end to end on a tiny dataset.</summary>
[Collection(ConsoleCollection.Name)]
public class GrdaCliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (o, e) = (new StringWriter(), new StringWriter());
        Console.SetOut(o);
        Console.SetError(e);
        try { return (Lopper.Cli.Cli.Run(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    private static void WriteTinyFashion(string dir, int train, int test)
    {
        foreach (var (prefix, n) in new[] { ("train", train), ("t10k", test) })
        {
            var pixels = new byte[n * 784];
            var labels = new byte[n];
            for (int i = 0; i < n; i++)
            {
                labels[i] = (byte)(i % 10);
                for (int p = 0; p < 784; p++) pixels[i * 784 + p] = (byte)((p / 28) / 3 == i % 10 ? 200 : (p * 7 + i) % 50);
            }
            DataFiles.Write(Path.Combine(dir, $"{prefix}-images-idx3-ubyte.gz"), DataFiles.IdxImages(pixels, n, 28, 28), gzip: true);
            DataFiles.Write(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte.gz"), DataFiles.IdxLabels(labels, n), gzip: true);
        }
    }

    [Fact]
    public void TrainWithGrdaReportsSparsityAndWritesACompactedEquivalent()
    {
        using var dir = new TempDir();
        var data = dir.File("data");
        Directory.CreateDirectory(data);
        WriteTinyFashion(data, 128, 32);
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
    public void BadGrdaFlagsAreOneLineErrors(string message, params string[] flags)
    {
        var (code, _, err) = Run(["train", "--model", "lenet5", "--data", "/nonexistent/lopper-data", .. flags]);
        Assert.NotEqual(0, code);
        Assert.Contains(message, err);
    }
}
