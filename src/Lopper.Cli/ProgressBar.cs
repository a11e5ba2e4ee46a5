using Lopper.Training;

namespace Lopper.Cli;

/// <summary>
/// Renders training progress on stderr: a redrawn bar on a terminal, and a plain line every 30 seconds
/// when stderr is a file or pipe (so logs of long runs stay readable and still show life).
/// </summary>
public sealed class ProgressBar : IProgress<TrainProgress>
{
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private DateTime _lastDraw = DateTime.MinValue;

    /// <inheritdoc/>
    public void Report(TrainProgress p)
    {
        var now = DateTime.UtcNow;
        if (!_interactive)
        {
            if (_lastDraw == DateTime.MinValue) _lastDraw = now;
            if ((now - _lastDraw).TotalSeconds < 30 || p.Batch == p.Batches) return;
            _lastDraw = now;
            Console.Error.WriteLine($"epoch {p.Epoch + 1}/{p.Epochs} batch {p.Batch}/{p.Batches} loss {p.Loss:F4} acc {p.Accuracy * 100:F2}% {p.ImagesPerSecond:F0} img/s ETA {FormatSeconds(p.EtaSeconds)}");
            return;
        }
        if (p.Batch != p.Batches && (now - _lastDraw).TotalMilliseconds < 200) return;
        _lastDraw = now;
        const int width = 24;
        int filled = (int)((long)width * p.Batch / p.Batches);
        string bar = new string('#', filled) + new string('-', width - filled);
        Console.Error.Write($"\repoch {p.Epoch + 1}/{p.Epochs} [{bar}] {p.Batch}/{p.Batches} loss {p.Loss:F4} acc {p.Accuracy * 100:F2}% {p.ImagesPerSecond:F0} img/s ETA {FormatSeconds(p.EtaSeconds)}   ");
        if (p.Batch == p.Batches) Console.Error.Write('\r' + new string(' ', 110) + '\r');
    }

    /// <summary>Formats seconds as 1h02m, 3m04s or 5s.</summary>
    public static string FormatSeconds(double s)
    {
        if (!double.IsFinite(s) || s < 0) return "?";
        var t = TimeSpan.FromSeconds(s);
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:D2}s" : $"{t.Seconds}s";
    }
}
