namespace Lopper.Pruning.Snacs;

/// <summary>
/// SNACS operating constraints (spec §5): a per-pair upper pruning limit. An RBF-SVM is trained on the child layer's
/// original (ReLU-clamped) probe activations; the pair alone is pruned at each level of a grid, the SVM is tested on
/// the pruned activations, and UL is the largest level whose accuracy stays at or above max − β·(max − min).
/// </summary>
/// <remarks>The pruned activations come from the probe's patch means (exact, see <see cref="ActivationProbe.PatchMeans"/>),
/// so a level costs one matrix product instead of a forward pass.</remarks>
public static class OperatingConstraints
{
    /// <summary>The grid start, start+step, … up to 0.97 (the released code's 1…97 % step 2 by default).</summary>
    public static double[] Grid(double step, double start = 0.01, double end = 0.97)
    {
        var g = new List<double>();
        for (int i = 0; start + i * step <= end + 1e-9; i++) g.Add(Math.Round(start + i * step, 10));
        return g.ToArray();
    }

    /// <summary>UL of one pair and the SVM accuracy at each grid level.</summary>
    /// <param name="scores">The pair's scores (cut decisions).</param>
    /// <param name="patches">The child's patch means on the probe rows used here.</param>
    /// <param name="weight">The child weight, flattened [O, C·k·k].</param>
    /// <param name="bias">The child bias or null.</param>
    /// <param name="labels">Labels of those rows.</param>
    /// <param name="grid">Prune levels (fractions).</param>
    /// <param name="beta">Allowed drop as a fraction of the accuracy range (0.7).</param>
    public static (double UpperLimit, double[] Accuracy) UpperLimit(PairScores scores, ActivationMatrix patches, float[] weight, float[]? bias,
        int[] labels, double[] grid, double beta = 0.7)
    {
        int outC = scores.ChildStarts[^1], inC = scores.ParentStarts[^1];
        var original = ActivationProbe.FromPatches(patches, weight, bias, outC).Relu();
        var svm = new RbfSvm(original, labels);
        var acc = new double[grid.Length];
        var masked = new float[weight.Length];
        var mask = new float[weight.Length];
        for (int i = 0; i < grid.Length; i++)
        {
            var cut = ConnectionMasks.LayerCut(scores.Scores, grid[i]);
            mask.AsSpan().Fill(1f);
            ConnectionMasks.Apply(cut, scores.ParentStarts, scores.ChildStarts, inC, mask);
            TensorPrimitives.Multiply(weight, mask, masked);
            acc[i] = svm.Accuracy(ActivationProbe.FromPatches(patches, masked, bias, outC).Relu(), labels);
        }
        double max = acc.Max(), min = acc.Min();
        double tau = max - beta * (max - min);
        double ul = grid[0];
        for (int i = 0; i < grid.Length; i++) if (acc[i] >= tau) ul = grid[i]; // the last level meeting it, not the first crossing
        return (ul, acc);
    }
}
