using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;

namespace Lopper.Tests.Pruning;

/// <summary>`lopper prune srinit` end to end on a tiny IDX dataset.</summary>
[Collection(ConsoleCollection.Name)]
public class SrInitCliTests
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

    /// <summary>A tiny Fashion-MNIST-shaped dataset (28x28, 10 classes) in IDX format.</summary>
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
    public void PruneSrInitWritesTheDropTable()
    {
        using var dir = new TempDir();
        var data = dir.File("data");
        Directory.CreateDirectory(data);
        WriteTinyFashion(data, 40, 20);
        var run = dir.File("run");
        var sw = Stopwatch.StartNew();
        var (code, _, err) = Run("train", "--model", "resnet20", "--epochs", "1", "--batch-size", "20", "--data", data, "--out", run, "--json", "--threads", "1");
        Assert.True(code == 0, err);

        var pruned = dir.File("pruned");
        (code, var output, err) = Run("prune", "srinit", "--from", run, "--out", pruned, "--blocks", "2", "--eval-samples", "10",
            "--finetune-epochs", "1", "--batch-size", "20", "--latency-batch", "2", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("reset acc", err);
        Assert.Contains("layer3.2", err);
        var p = JsonNode.Parse(output)!;
        Assert.Equal("srinit", (string)p["method"]!);
        Assert.True((long)p["params_after"]! < (long)p["params_before"]!);
        var details = JsonNode.Parse(File.ReadAllText(Path.Combine(pruned, "run.json")))!["details"]!;
        Assert.Equal(10, (int)details["eval_samples"]!);
        var rows = details["blocks"]!.AsArray();
        Assert.Equal(9, rows.Count);
        Assert.Equal(2, rows.Count(r => (bool)r!["removed"]!));

        (code, _, err) = Run("prune", "srinit", "--from", run, "--out", dir.File("x"), "--tau", "0.1", "--criterion", "random");
        Assert.Equal(2, code);
        Assert.Contains("--tau applies to --criterion srinit only", err);
        Assert.True(sw.Elapsed.TotalSeconds < 60, $"took {sw.Elapsed.TotalSeconds:F1}s");
    }
}
