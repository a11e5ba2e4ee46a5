namespace Lopper.Pruning.Snacs;

/// <summary>
/// MINT's conditional dependence estimator (Ganesh et al. 2020; spec §3.5, the intended algorithm rather than the
/// released code's index mix-ups): rows split into thirds A, B, C; each A row takes the Y of the B row nearest to it
/// in Z (a nearest-neighbour bootstrap of p(x,z)·p(y|z)); the Euclidean minimum spanning tree of C (genuine joint
/// samples) pooled with the bootstrapped A rows is built, and the score is 1 − r/(n/3) with r the number of tree
/// edges joining the two samples (Friedman–Rafsky): about 0 under conditional independence, towards 1 under strong
/// dependence. O(N²) time and memory per call; distances come from a GEMM, the tree from dense Prim.
/// </summary>
/// <remarks>Each call works alone (nothing shared across the calls of a pair), as in MINT, so the benchmark
/// compares the two estimators as their methods use them.</remarks>
public sealed class MintCmiEstimator : ICmiEstimator
{
    /// <inheritdoc/>
    public string Name => "mint";

    /// <summary>One estimate for sample matrices with the same rows, in their given (already shuffled) order.</summary>
    public unsafe double Estimate(ActivationMatrix x, ActivationMatrix y, ActivationMatrix z)
    {
        int n = x.Rows;
        if (n < 6) throw new ArgumentException($"MINT's estimator needs at least 6 samples, got {n}");
        int t = 2 * n / 3, a0 = t / 2, bCount = t - a0, n1 = n - t;
        int dx = x.Cols, dy = y.Cols, dz = z.Cols, d = dx + dy + dz;
        // Nearest B row in Z for each A row.
        var nearest = new int[a0];
        if (dz == 0) Array.Fill(nearest, a0); // no conditioning: any B row is a draw from p(y)
        else
        {
            var za = z.TopRows(a0);
            var zb = new ActivationMatrix(bCount, dz, z.Data.AsSpan(a0 * dz, bCount * dz).ToArray());
            var dist = PairwiseDistances.Squared(za, zb);
            for (int i = 0; i < a0; i++)
            {
                var row = dist.AsSpan(i * bCount, bCount);
                nearest[i] = a0 + TensorPrimitives.IndexOfMin(row);
            }
        }
        // Pooled sample: genuine C rows first, then bootstrapped A rows [x_a, y_nn(a), z_a].
        int m = n1 + a0;
        var pooled = new ActivationMatrix(m, d);
        for (int i = 0; i < m; i++)
        {
            int src = i < n1 ? t + i : i - n1;
            int ySrc = i < n1 ? src : nearest[src];
            var dst = pooled.Row(i);
            x.Row(src).CopyTo(dst);
            y.Row(ySrc).CopyTo(dst[dx..]);
            if (dz > 0) z.Row(src).CopyTo(dst[(dx + dy)..]);
        }
        var dPool = PairwiseDistances.Squared(pooled, pooled);
        int cross = MstCrossEdges(dPool, m, n1);
        cross = Math.Min(cross, n1);
        return 1.0 - cross / (n / 3.0);
    }

    /// <summary>Dense Prim's MST on an m×m distance matrix; counts tree edges joining a point below <paramref name="split"/> to one at or above it.</summary>
    public static int MstCrossEdges(float[] dist, int m, int split)
    {
        var best = new float[m];
        var from = new int[m];
        var inTree = new bool[m];
        Array.Fill(best, float.PositiveInfinity);
        best[0] = 0;
        int cross = 0;
        for (int step = 0; step < m; step++)
        {
            int u = -1;
            float bu = float.PositiveInfinity;
            for (int v = 0; v < m; v++)
                if (!inTree[v] && (u < 0 || best[v] < bu)) { u = v; bu = best[v]; }
            inTree[u] = true;
            if (step > 0 && (u < split) != (from[u] < split)) cross++;
            var row = dist.AsSpan(u * m, m);
            for (int v = 0; v < m; v++)
                if (!inTree[v] && row[v] < best[v]) { best[v] = row[v]; from[v] = u; }
        }
        return cross;
    }

    /// <inheritdoc/>
    public double[,] ScorePair(ActivationMatrix parent, ActivationMatrix child, int[] parentStarts, int[] childStarts, ulong seed, Action? progress = null)
    {
        int gp = parentStarts.Length - 1, gc = childStarts.Length - 1;
        var r = new double[gc, gp];
        Lopper.Parallelism.For(gc, c =>
        {
            var x = child.Columns(childStarts[c], childStarts[c + 1] - childStarts[c]);
            for (int p = 0; p < gp; p++)
            {
                int start = parentStarts[p], d = parentStarts[p + 1] - start;
                r[c, p] = Estimate(x, parent.Columns(start, d), parent.WithoutColumns(start, d));
            }
            progress?.Invoke();
        });
        return r;
    }
}
