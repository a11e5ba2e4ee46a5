namespace Lopper.Pruning.Snacs;

/// <summary>
/// BUILD_MASKS (spec §7): one global threshold at quantile q of all distinct ACMI values, each pair capped at its
/// upper limit (a pair that the global cut would prune by at least UL falls back to its own UL-quantile), protected
/// child groups untouched; every connection with score ≤ its threshold is cut (ties go together).
/// </summary>
public static class ConnectionMasks
{
    /// <summary>Sorted distinct values of a set of score matrices.</summary>
    public static double[] DistinctValues(IEnumerable<double[,]> scores)
    {
        var all = new List<double>();
        foreach (var s in scores) foreach (var v in s) all.Add(v);
        all.Sort();
        var distinct = new List<double>(all.Count);
        foreach (var v in all) if (distinct.Count == 0 || v != distinct[^1]) distinct.Add(v);
        return distinct.ToArray();
    }

    /// <summary>V[min(round(q·|V|), |V| − 1)] (the clamp of §12 item 14).</summary>
    public static double Quantile(double[] sortedDistinct, double q)
    {
        int i = (int)Math.Round(q * sortedDistinct.Length, MidpointRounding.ToEven);
        return sortedDistinct[Math.Clamp(i, 0, sortedDistinct.Length - 1)];
    }

    /// <summary>The cut matrices (true = connection removed), one per pair, for global fraction q.</summary>
    public static bool[][,] Build(IReadOnlyList<PairScores> pairs, double q)
        => BuildAtThreshold(pairs, Quantile(DistinctValues(pairs.Select(p => p.Scores)), q));

    /// <summary>
    /// The cut matrices for a given global threshold (−∞ cuts nothing). <paramref name="relax"/> in [0, 1] lifts every
    /// upper limit by that share of its headroom (UL + relax·(1 − UL)): how a parameter target the limits forbid is
    /// still reached, spending the extra cuts where the scores are lowest.
    /// </summary>
    public static bool[][,] BuildAtThreshold(IReadOnlyList<PairScores> pairs, double globalThreshold, double relax = 0)
    {
        var cuts = new bool[pairs.Count][,];
        for (int l = 0; l < pairs.Count; l++)
        {
            var ps = pairs[l];
            var s = ps.Scores;
            int gc = ps.ChildGroups, gp = ps.ParentGroups;
            int below = 0;
            foreach (var v in s) if (v <= globalThreshold) below++;
            double t = globalThreshold;
            double limit = ps.UpperLimit + relax * (1 - ps.UpperLimit);
            if ((double)below / (gc * gp) >= limit)
                t = Math.Min(globalThreshold, Quantile(DistinctValues([s]), limit));
            var cut = new bool[gc, gp];
            for (int c = 0; c < gc; c++)
            {
                if (ps.Protected is { } prot && prot[c]) continue;
                for (int p = 0; p < gp; p++) cut[c, p] = s[c, p] <= t;
            }
            cuts[l] = cut;
        }
        return cuts;
    }

    /// <summary>Cut matrix of one pair pruned alone at fraction q of its own distinct scores, nothing protected (§5).</summary>
    public static bool[,] LayerCut(double[,] scores, double q)
    {
        double t = Quantile(DistinctValues([scores]), q);
        int gc = scores.GetLength(0), gp = scores.GetLength(1);
        var cut = new bool[gc, gp];
        for (int c = 0; c < gc; c++)
            for (int p = 0; p < gp; p++) cut[c, p] = scores[c, p] <= t;
        return cut;
    }

    /// <summary>
    /// Writes a cut matrix into a child weight mask (1 = kept): every child filter of a cut child group loses its
    /// slice on every parent channel of the cut parent group (k×k kernel, or the H·W columns of a flattened channel).
    /// </summary>
    public static void Apply(bool[,] cut, int[] parentStarts, int[] childStarts, int inChannels, float[] mask)
    {
        int outChannels = childStarts[^1];
        int slice = mask.Length / (outChannels * inChannels);
        for (int c = 0; c < cut.GetLength(0); c++)
            for (int p = 0; p < cut.GetLength(1); p++)
            {
                if (!cut[c, p]) continue;
                for (int i = childStarts[c]; i < childStarts[c + 1]; i++)
                    mask.AsSpan((i * inChannels + parentStarts[p]) * slice, (parentStarts[p + 1] - parentStarts[p]) * slice).Clear();
            }
    }
}
