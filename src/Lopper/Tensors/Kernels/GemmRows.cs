using System.Runtime.Intrinsics;

namespace Lopper.Tensors.Kernels;

internal static unsafe partial class Gemm
{
    /// <summary>True where <see cref="MultiplyRows"/> runs (it has only a Vector512 kernel).</summary>
    public static bool RowsSupported => Vector512.IsHardwareAccelerated && ForcedPath is KernelPath.Auto or KernelPath.Vector512;

    /// <summary>
    /// C[m,n] = A[m,k] B, where depth row p of B is the n floats at <c>rows[p]</c> (rows may overlap and need
    /// not be evenly spaced) and A is row-major with row stride <paramref name="lda"/>. C is overwritten. One
    /// thread: callers split work themselves. Requires <see cref="RowsSupported"/>.
    /// </summary>
    /// <remarks>
    /// B is read in place through the row pointers for every full (and the first half) 32-column panel; only
    /// the last narrow panel is packed. This is what lets a stride-1 convolution skip im2col: its B rows are
    /// the input planes shifted by each kernel tap (see <see cref="PaddedConv"/>). The kernels are GemmKernels'
    /// Vector512 ones, reading B through <see cref="GemmKernels.RowsB"/>.
    /// </remarks>
    public static void MultiplyRows(int m, int n, int k, float* a, int lda, float** rows, float* c, int ldc)
    {
        if (!RowsSupported) throw new PlatformNotSupportedException("Gemm.MultiplyRows needs Vector512 hardware");
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            for (int i = 0; i < m; i++) new Span<float>(c + (long)i * ldc, n).Clear();
            return;
        }
        const int mr = GemmKernels.MR512, nr = GemmKernels.NR512;
        int kc = Even(k, 256, 1);
        int paddedM = (m + mr - 1) / mr * mr;
        float* packA = Buffers.A(paddedM * kc);
        float* packB = Buffers.B(nr * kc);
        float* tile = stackalloc float[mr * nr];
        int full = n / nr * nr, half = n - full >= nr / 2 ? nr / 2 : 0, done = full + half;
        for (int pc = 0; pc < k; pc += kc)
        {
            int kcur = Math.Min(kc, k - pc);
            bool add = pc > 0;
            GemmKernels.PackA(false, a, lda, 0, m, pc, kcur, mr, packA);
            float** r = rows + pc;
            for (int j = 0; j < full; j += nr)
                for (int i = 0; i < m; i += mr)
                    GemmKernels.Tile(false, kcur, packA + i * kcur, 1, mr, new GemmKernels.RowsB(r, j), c + (long)i * ldc + j, ldc, add, Math.Min(mr, m - i), nr, tile);
            if (half > 0)
                for (int i = 0; i < m; i += mr)
                    GemmKernels.Tile(true, kcur, packA + i * kcur, 1, mr, new GemmKernels.RowsB(r, full), c + (long)i * ldc + full, ldc, add, Math.Min(mr, m - i), half, tile);
            if (done == n) continue;
            // The last few columns: packed (zero beyond n) and run through the ordinary half kernel.
            int cols = n - done;
            for (int p = 0; p < kcur; p++)
            {
                float* s = r[p] + done, d = packB + (long)p * nr;
                int j = 0;
                for (; j < cols; j++) d[j] = s[j];
                for (; j < nr / 2; j++) d[j] = 0f;
            }
            for (int i = 0; i < m; i += mr)
                GemmKernels.Tile(true, kcur, packA + i * kcur, 1, mr, new GemmKernels.StridedB(packB, nr), c + (long)i * ldc + done, ldc, add, Math.Min(mr, m - i), cols, tile);
        }
    }

    /// <summary>
    /// C[s*m + i, j] += sum_p A_s[i, p] * B[j, p] for every shift s, where A_s row i is the k floats at
    /// <c>a + offsets[s] + i*rowStride</c> and B is stored n x k (row stride <paramref name="ldb"/>): one product
    /// per shifted view of A, all against the same B, which is packed once per depth block. C is row-major,
    /// row stride <paramref name="ldc"/>, and accumulated into. One thread; requires <see cref="RowsSupported"/>.
    /// </summary>
    /// <remarks>
    /// This is the weight gradient of a stride-1 same convolution without im2col (see
    /// <see cref="PaddedConv.Backward"/>): A is the padded input (rows = channels, a plane apart; shift =
    /// kernel tap), B the output gradient at the padded pitch.
    /// </remarks>
    public static void AccumulateShifted(int m, int n, int k, float* a, nint rowStride, ReadOnlySpan<int> offsets, float* b, int ldb, float* c, int ldc)
    {
        if (!RowsSupported) throw new PlatformNotSupportedException("Gemm.AccumulateShifted needs Vector512 hardware");
        if (m <= 0 || n <= 0 || k <= 0) return;
        const int mr = GemmKernels.MR512, nr = GemmKernels.NR512;
        int kc = Even(k, 768, 1);
        int panels = (n + nr - 1) / nr;
        float* packB = Buffers.B(panels * nr * kc);
        float* tile = stackalloc float[mr * nr];
        for (int pc = 0; pc < k; pc += kc)
        {
            int kcur = Math.Min(kc, k - pc);
            GemmKernels.PackB(true, b, ldb, pc, kcur, 0, n, nr, packB);
            for (int s = 0; s < offsets.Length; s++)
            {
                float* aS = a + offsets[s] + pc;
                for (int q = 0; q < panels; q++)
                {
                    int cols = Math.Min(nr, n - q * nr);
                    var panel = new GemmKernels.StridedB(packB + (long)q * kcur * nr, nr);
                    for (int i = 0; i < m; i += mr)
                        GemmKernels.Tile(cols <= nr / 2, kcur, aS + i * rowStride, rowStride, 1, panel,
                            c + ((long)s * m + i) * ldc + q * nr, ldc, true, Math.Min(mr, m - i), cols, tile);
                }
            }
        }
    }
}
