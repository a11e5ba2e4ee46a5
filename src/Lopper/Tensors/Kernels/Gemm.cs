namespace Lopper.Tensors.Kernels;

/// <summary>Single-precision matrix multiply, row-major.</summary>
public static unsafe class Gemm
{
    /// <summary>
    /// C[m,n] = (accumulate ? C[m,n] : 0) + sum_k op(A)[m,k] * op(B)[k,n], where op(A) is A (m x k, row
    /// stride lda) or, when <paramref name="transA"/>, A stored as k x m; likewise B (k x n, or n x k when
    /// <paramref name="transB"/>). Uses up to <see cref="Parallelism.Threads"/> threads.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        // Reference implementation; replaced by the packed micro-kernel.
        for (int i = 0; i < m; i++)
        {
            float* crow = c + (long)i * ldc;
            if (!accumulate) new Span<float>(crow, n).Clear();
            for (int p = 0; p < k; p++)
            {
                float av = transA ? a[(long)p * lda + i] : a[(long)i * lda + p];
                if (av == 0) continue;
                if (!transB)
                {
                    float* brow = b + (long)p * ldb;
                    for (int j = 0; j < n; j++) crow[j] += av * brow[j];
                }
                else
                {
                    for (int j = 0; j < n; j++) crow[j] += av * b[(long)j * ldb + p];
                }
            }
        }
    }
}
