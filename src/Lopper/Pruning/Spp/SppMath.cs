namespace Lopper.Pruning.Spp;

/// <summary>The closed-form pieces of SPP: the increment function and the speedup-to-ratio rule.</summary>
public static class SppMath
{
    /// <summary>
    /// Δ(r), the probability increment of the surviving column at L1 rank <paramref name="rank"/> (0 = smallest)
    /// when <paramref name="remaining"/> = M columns are still to go: A·exp(−α r) below N_c and
    /// 2uA − A·exp(−α(2N_c − r)) from N_c on, with α = ln(2/u)/M and N_c = −ln(u)/α. It is point-symmetric about
    /// (N_c, uA), equals A at rank 0 and exactly 0 at rank M, and is negative beyond, so columns can recover.
    /// </summary>
    public static double Increment(double rank, int remaining, double a, double u)
    {
        if (remaining < 1) throw new ArgumentOutOfRangeException(nameof(remaining), "no columns left to prune");
        double alpha = Math.Log(2 / u) / remaining;
        double nc = -Math.Log(u) / alpha;
        if (rank < nc) return a * Math.Exp(-alpha * rank);
        // Far above the boundary the exponent overflows; 700 already gives a decrement far below −1.
        return 2 * u * a - a * Math.Exp(Math.Min(700, -alpha * (2 * nc - rank)));
    }

    /// <summary>Rank N_c of the centre of symmetry of <see cref="Increment"/>.</summary>
    public static double Centre(int remaining, double u) => remaining * Math.Log(1 / u) / Math.Log(2 / u);

    /// <summary>p + Δ clipped to [0, 1], so p = 1 is reached exactly and marks a column for removal.</summary>
    public static double Step(double p, double delta) => Math.Clamp(p + delta, 0.0, 1.0);

    /// <summary>
    /// The uniform column ratio r that gives conv-MAC speedup <paramref name="speedup"/> when only the
    /// convolutions carrying <paramref name="prunableMacs"/> of <paramref name="totalConvMacs"/> are pruned:
    /// total / (total − r·prunable) = S, so r = (1 − 1/S)·total/prunable (r = 1 − 1/S when every conv is pruned).
    /// </summary>
    public static double UniformRatio(double speedup, long totalConvMacs, long prunableMacs)
    {
        if (prunableMacs <= 0) throw new LopperInputException("spp: the model has no prunable convolution");
        double r = (1 - 1 / speedup) * totalConvMacs / prunableMacs;
        if (r >= 1) throw LopperInputException.ForOptions<SppOptions>($"TargetSpeedup {speedup:g4} needs a column ratio of {r:g4} on the prunable convolutions; it cannot be reached", nameof(SppOptions.TargetSpeedup));
        return r;
    }

    /// <summary>
    /// Probability updates a layer of <paramref name="columns"/> columns needs to remove <paramref name="target"/> of
    /// them by probability alone when the L1 ranks never change (the fastest case: the spec's §6.3 simulation). The
    /// weakest column gains A per update, so this is at least ⌈1/A⌉ and at most target·⌈1/A⌉.
    /// </summary>
    public static int UpdatesToComplete(int columns, int target, double a, double u)
    {
        if (target <= 0) return 0;
        // Live columns' probabilities in rank order (index = rank); the removed ones leave and the rest move down.
        var p = new double[columns];
        int live = columns, updates = 0;
        while (columns - live < target)
        {
            updates++;
            int remaining = target - (columns - live);
            int kept = 0;
            for (int r = 0; r < live; r++)
            {
                double q = Step(p[r], Increment(r, remaining, a, u));
                if (q < 1) p[kept++] = q;
            }
            live = kept;
        }
        return updates;
    }

    /// <summary>Columns to remove for ratio <paramref name="ratio"/> of <paramref name="columns"/>: ⌈R·K⌉, keeping at least one.</summary>
    public static int TargetCount(double ratio, int columns) =>
        Math.Clamp((int)Math.Ceiling(ratio * columns - 1e-9), 0, columns - 1);

    /// <summary>Conv-MAC speedup Σ F / Σ F·(1 − r) of per-layer MACs and removed fractions.</summary>
    public static double Speedup(IEnumerable<(long Macs, double Ratio)> layers)
    {
        double before = 0, after = 0;
        foreach (var (f, r) in layers) { before += f; after += f * (1 - r); }
        return after <= 0 ? double.PositiveInfinity : before / after;
    }
}
