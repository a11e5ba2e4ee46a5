using Lopper.Tensors.Kernels;

namespace Lopper.Pruning.Snacs;

/// <summary>All-pairs squared Euclidean distances through one GEMM (used by MINT's estimator and the RBF kernel).</summary>
public static class PairwiseDistances
{
    /// <summary>Squared Euclidean distances between the rows of a and of b: |a|² + |b|² − 2·a·bᵀ (clamped at 0).</summary>
    public static unsafe float[] Squared(ActivationMatrix a, ActivationMatrix b)
    {
        int m = a.Rows, n = b.Rows, k = a.Cols;
        var g = new float[m * n];
        fixed (float* pa = a.Data, pb = b.Data, pg = g)
            Gemm.Multiply(false, true, m, n, k, pa, k, pb, k, pg, n, false);
        var na = new float[m];
        var nb = new float[n];
        for (int i = 0; i < m; i++) na[i] = TensorPrimitives.Dot(a.Row(i), a.Row(i));
        for (int j = 0; j < n; j++) nb[j] = TensorPrimitives.Dot(b.Row(j), b.Row(j));
        for (int i = 0; i < m; i++)
        {
            var row = g.AsSpan(i * n, n);
            TensorPrimitives.Multiply(row, -2f, row);
            TensorPrimitives.Add(row, nb, row);
            TensorPrimitives.Add(row, na[i], row);
            TensorPrimitives.Max(row, 0f, row);
        }
        return g;
    }
}
