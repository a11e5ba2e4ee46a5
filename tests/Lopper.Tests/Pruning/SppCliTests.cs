using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;

namespace Lopper.Tests.Pruning;

/// <summary>`lopper prune spp` end to end on a tiny IDX dataset; console redirection needs the serial collection.</summary>
[Collection(ConsoleCollection.Name)]
public class SppCliTests
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
    public void PruneSppCompactsToTheSpeedupTarget()
    {
        using var dir = new TempDir();
        var data = dir.File("data");
        Directory.CreateDirectory(data);
        WriteTinyFashion(data, 40, 20);
        var run = dir.File("run");
        var sw = Stopwatch.StartNew();
        var (code, _, err) = Run("train", "--model", "lenet5", "--epochs", "1", "--batch-size", "20", "--data", data, "--out", run, "--json", "--threads", "1");
        Assert.True(code == 0, err);

        var pruned = dir.File("pruned");
        (code, var output, err) = Run("prune", "spp", "--from", run, "--out", pruned, "--target-speedup", "1.5", "--interval", "1", "--A", "0.5",
            "--prune-epochs", "2", "--batch-size", "20", "--latency-batch", "2", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("SPP iteration", err);
        Assert.Equal("spp", (string)JsonNode.Parse(output)!["method"]!);
        var details = JsonNode.Parse(File.ReadAllText(Path.Combine(pruned, "run.json")))!["details"]!;
        Assert.True((double)details["conv_mac_speedup"]! >= 1.5 - 1e-9);
        Assert.All(details["layers"]!.AsArray(), l => Assert.True((int)l!["pruned_columns"]! >= (int)l["target_columns"]!));

        (code, _, err) = Run("prune", "spp", "--from", run, "--out", dir.File("x"), "--target-speedup", "2", "--ratios", "conv1=0.5");
        Assert.Equal(2, code);
        Assert.Contains("exactly one of --target-speedup", err);
        Assert.True(sw.Elapsed.TotalSeconds < 60, $"took {sw.Elapsed.TotalSeconds:F1}s");
    }
}
