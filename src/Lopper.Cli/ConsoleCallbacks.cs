using Lopper.Runs;

namespace Lopper.Cli;

/// <summary>The CLI's <see cref="RunCallbacks"/>: a progress bar and status lines on stderr, one line per finished epoch.</summary>
public static class ConsoleCallbacks
{
    /// <summary>Callbacks that draw on stderr (stdout stays the command's result).</summary>
    public static RunCallbacks Create() => new()
    {
        Progress = new ProgressBar(),
        Log = s => Console.Error.WriteLine(s),
        Epoch = e => Console.Error.WriteLine(EpochLine(e)),
    };

    /// <summary>"epoch 3/10: loss ... train ...% test ...% [sparsity] [MACs] seconds img/s".</summary>
    public static string EpochLine(EpochReport e)
    {
        var r = e.Record;
        string extra = r["sparsity"] is { } s ? $" sparsity {(double)s * 100:F2}%" : "";
        if (r["macs"] is { } m) extra += $" {(long)m / 1e6:F2}M MACs";
        return $"epoch {e.Epoch + 1}/{e.Epochs}: loss {(double)r["train_loss"]!:F4} train {(double)r["train_accuracy"]! * 100:F2}% test {((double?)r["test_accuracy"] ?? 0) * 100:F2}%{extra} {(double)r["train_seconds"]!:F1}s {(double)r["images_per_second"]!:F0} img/s";
    }
}
