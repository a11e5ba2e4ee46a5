namespace Lopper.Cli.Experiments;

/// <summary>
/// A progress line across the cells of a grid on stderr: done/total, failures, elapsed time and an ETA
/// from the mean time of the cells run in this invocation (skipped cells cost nothing and do not count).
/// </summary>
public sealed class GridProgress(int total, TextWriter log)
{
    private readonly DateTime _start = DateTime.UtcNow;
    private int _done, _failed, _ran;
    private double _ranSeconds;

    /// <summary>Counts a cell that was already finished.</summary>
    public void Skipped() => _done++;

    /// <summary>Counts a cell that just ran.</summary>
    public void Finished(bool ok, double seconds)
    {
        _done++;
        _ran++;
        _ranSeconds += seconds;
        if (!ok) _failed++;
        Draw();
    }

    /// <summary>Writes the bar once.</summary>
    public void Draw()
    {
        const int width = 24;
        int filled = total == 0 ? width : (int)((long)width * _done / total);
        double eta = _ran == 0 ? double.NaN : _ranSeconds / _ran * (total - _done);
        log.WriteLine($"experiment [{new string('#', filled)}{new string('-', width - filled)}] {_done}/{total} cells" +
            (_failed > 0 ? $" ({_failed} failed)" : "") +
            $", {ProgressBar.FormatSeconds((DateTime.UtcNow - _start).TotalSeconds)} elapsed" +
            (_done < total ? $", ETA {ProgressBar.FormatSeconds(eta)}" : ""));
    }
}
