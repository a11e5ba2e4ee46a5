using Lopper.Tests.Data;

namespace Lopper.Tests.Cli;

/// <summary>Runs the lopper command in-process with captured output, and writes tiny datasets for it.</summary>
internal static class CliHarness
{
    /// <summary>Exit code, stdout and stderr of one lopper invocation (use from the console collection only).</summary>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (o, e) = (new StringWriter(), new StringWriter());
        Console.SetOut(o);
        Console.SetError(e);
        try { return (Lopper.Cli.Cli.Run(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    /// <summary>Writes a tiny Fashion-MNIST-shaped dataset (28x28, 10 classes, a learnable row pattern) in IDX format.</summary>
    public static void WriteTinyFashion(string dir, int train, int test)
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

    /// <summary>A fresh folder under <paramref name="dir"/> holding a tiny Fashion-MNIST-shaped dataset.</summary>
    public static string TinyData(TempDir dir, int train, int test, string name = "data")
    {
        var data = dir.File(name);
        Directory.CreateDirectory(data);
        WriteTinyFashion(data, train, test);
        return data;
    }

    /// <summary>Trains <paramref name="model"/> for <paramref name="epochs"/> epoch(s) (batch 20, one thread) on <paramref name="data"/> into DIR/<paramref name="name"/>; fails the test if training fails.</summary>
    public static string TrainTiny(TempDir dir, string model, string data, string name = "run", int epochs = 1, params string[] extra)
    {
        var run = dir.File(name);
        var (code, _, err) = Run(["train", "--model", model, "--epochs", epochs.ToString(), "--batch-size", "20", "--data", data, "--out", run, "--json", "--threads", "1", .. extra]);
        Assert.True(code == 0, err);
        return run;
    }
}
