namespace Lopper.Pruning.Spp;

/// <summary>SPP state of one convolution: a pruning probability per im2col column and which columns are gone.</summary>
public sealed class SppLayer
{
    /// <summary>Creates the state of a convolution with <paramref name="filters"/> rows and <paramref name="columns"/> columns.</summary>
    public SppLayer(string node, int filters, int columns, long macs, double targetRatio)
    {
        Node = node;
        Filters = filters;
        Columns = columns;
        Macs = macs;
        TargetRatio = targetRatio;
        TargetCount = SppMath.TargetCount(targetRatio, columns);
        P = new double[columns];
        Dead = new bool[columns];
        Mask = new bool[columns];
        Array.Fill(Mask, true);
        Finished = TargetCount == 0;
    }

    /// <summary>Convolution node name.</summary>
    public string Node { get; }
    /// <summary>Weight parameter name.</summary>
    public string Weight => Node + ".weight";
    /// <summary>Filters N (rows of the im2col weight matrix).</summary>
    public int Filters { get; }
    /// <summary>Columns K = C·k·k; column j = c·k·k + ky·k + kx.</summary>
    public int Columns { get; }
    /// <summary>MACs of the dense convolution for one image.</summary>
    public long Macs { get; }
    /// <summary>Requested fraction of columns to remove.</summary>
    public double TargetRatio { get; }
    /// <summary>Columns to remove: ⌈R·K⌉, at most K − 1.</summary>
    public int TargetCount { get; }
    /// <summary>Pruning probability per column.</summary>
    public double[] P { get; }
    /// <summary>Columns removed for good.</summary>
    public bool[] Dead { get; }
    /// <summary>Columns kept in the current iteration.</summary>
    public bool[] Mask { get; }
    /// <summary>Number of dead columns.</summary>
    public int DeadCount { get; internal set; }
    /// <summary>Whether the layer has stopped pruning.</summary>
    public bool Finished { get; internal set; }
    /// <summary>Iteration at which the layer stopped, or 0.</summary>
    public int FinishedAt { get; internal set; }
    /// <summary>Whether the layer was completed by rank because the epoch budget ran out.</summary>
    public bool Forced { get; internal set; }

    /// <summary>Columns removed by <see cref="SppHook.ForceFinish"/> (by rank, not by reaching probability 1).</summary>
    public int ForcedCount { get; internal set; }
    /// <summary>Columns removed because their probability reached 1.</summary>
    public int ProbabilityCount => DeadCount - ForcedCount;

    /// <summary>Fraction of columns removed for good.</summary>
    public double Ratio => (double)DeadCount / Columns;

    /// <summary>Whether any column is masked this iteration (dead or temporarily).</summary>
    internal bool AnyMasked;
    /// <summary>The weights before this iteration's mask, for columns masked only temporarily.</summary>
    internal float[]? Backup;
    /// <summary>Whether <see cref="Backup"/> holds this iteration's weights.</summary>
    internal bool BackupValid;
}
