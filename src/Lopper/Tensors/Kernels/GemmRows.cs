using System.Runtime.Intrinsics;

namespace Lopper.Tensors.Kernels;

internal static unsafe partial class Gemm
{
    /// <summary>
    /// True where the Vector512 micro-kernels run (<see cref="GemmKernels.Tile{B}"/>): the kernels built on them
    /// (the direct tiles, Winograd, the row-tap weight gradient) require it.
    /// </summary>
    public static bool RowsSupported => Vector512.IsHardwareAccelerated && ForcedPath is KernelPath.Auto or KernelPath.Vector512;

    /// <summary>
    /// True where <see cref="MultiplyRowsByPanel{S}"/> and <see cref="AccumulateShifted"/> run: on the Vector512
    /// micro-kernels, or on the Vector256 ones where FMA is in hardware (AVX2 parts, which have none of the
    /// Vector512 convolution kernels).
    /// </summary>
    public static bool RowsByPanelSupported => RowsSupported
        || Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported && ForcedPath is KernelPath.Auto or KernelPath.Vector256;

    // Rows of the micro-kernel tiles MultiplyRowsByPanel runs for an m-row A: on the Vector256 family balanced over
    // the tiles m needs (GemmKernels.BalancedRows256). AccumulateShifted, whose A is not packed, and Winograd's GEMM
    // keep 6: balanced blocks ran Winograd's 7-31 filter layers 2-4 % slower (one thread, Zen 3, alternating passes).
    private static int RowTileRows(int m) => RowsSupported ? GemmKernels.MR512 : GemmKernels.BalancedRows256(m);

    // Columns of the micro-kernel tile MultiplyRowsByPanel and AccumulateShifted run.
    private static int RowTileColumns => RowsSupported ? GemmKernels.NR512 : GemmKernels.NR256;

    // One tile of up to RowTileRows x RowTileColumns (half: at most half the columns) through the widest kernels
    // the hardware runs.
    private static void RowTile<B>(bool half, int kc, float* a, nint rs, nint ps, B b, float* c, int ldc, bool add, int mr, int nr, float* tile)
        where B : struct, GemmKernels.IBPanel
    {
        if (RowsSupported) GemmKernels.Tile(half, kc, a, rs, ps, b, c, ldc, add, mr, nr, tile);
        else GemmKernels.Tile256(half, kc, a, rs, ps, b, c, ldc, add, mr, nr, tile);
    }

    /// <summary>Receives each finished column panel of <see cref="MultiplyRowsByPanel{S}"/>.</summary>
    public interface IPanelSink
    {
        /// <summary>
        /// Columns [<paramref name="j0"/>, j0 + <paramref name="cols"/>) of every row of C are final: row i's are the
        /// floats at <c>panel + i*NR512</c>.
        /// </summary>
        void Panel(int j0, int cols, float* panel);
    }

    /// <summary>
    /// C[m,n] = A[m,k] B, where depth row p of B is the n floats at <c>rows[p]</c> (rows may overlap and need not
    /// be evenly spaced; this is what lets a stride-1 convolution skip im2col: its B rows are the input planes
    /// shifted by each kernel tap, see <see cref="PaddedConv"/>) and A is row-major with row stride
    /// <paramref name="lda"/>. C is handed to <paramref name="sink"/> one panel of at most 32 columns at a time
    /// instead of written to a C matrix, so the caller's epilogue (a convolution's bias, residual, ReLU and its pitch columns dropped) reads each panel while it
    /// is still in L1. A is packed into micro-panels (<see cref="PackRows"/>) on every call; a caller running many
    /// images against one A packs it once and calls <see cref="MultiplyPackedRowsByPanel{S}"/>. Requires <see cref="RowsByPanelSupported"/>; one thread. (Panels are 32 columns on either kernel
    /// family: the Vector256 one computes each as two tiles.)
    /// </summary>
    public static void MultiplyRowsByPanel<S>(int m, int n, int k, float* a, int lda, float** rows, ref S sink) where S : struct, IPanelSink
    {
        if (!RowsByPanelSupported) throw new PlatformNotSupportedException("Gemm.MultiplyRowsByPanel needs Vector512 hardware or Vector256 with FMA");
        if (m <= 0 || n <= 0) return;
        float* packA = Buffers.A(PackedRowsLength(m, k));
        PackRows(m, k, a, lda, packA);
        MultiplyPackedRowsByPanel(m, n, k, packA, rows, ref sink);
    }

    /// <summary>Floats of <see cref="PackRows"/>' output for an m x k A.</summary>
    public static int PackedRowsLength(int m, int k)
    {
        int mr = RowTileRows(m);
        return checked((m + mr - 1) / mr * mr * Math.Max(k, 1));
    }

    // Depth block of MultiplyRowsByPanel.
    private static int RowsDepthBlock(int k) => Even(Math.Max(k, 1), 256, 1);

    /// <summary>
    /// Packs A (m x k, row stride <paramref name="lda"/>) into <paramref name="dst"/> (<see cref="PackedRowsLength"/>
    /// floats) for <see cref="MultiplyPackedRowsByPanel{S}"/>: MR-row micro-panels per depth block, contiguous
    /// broadcasts for every column panel. The layout belongs to the kernel family running now
    /// (<see cref="ForcedPath"/> included). A convolution packs its weight once for all its images: per image, a
    /// 64 x 576 weight took as long to pack as a quarter of its 7x7 plane's product.
    /// </summary>
    public static void PackRows(int m, int k, float* a, int lda, float* dst)
    {
        int mr = RowTileRows(m), kc = RowsDepthBlock(k), paddedM = (m + mr - 1) / mr * mr;
        for (int pc = 0; pc < k; pc += kc) GemmKernels.PackA(false, a, lda, 0, m, pc, Math.Min(kc, k - pc), mr, dst + (long)paddedM * pc);
    }

    /// <summary><see cref="MultiplyRowsByPanel{S}"/> with A already through <see cref="PackRows"/>.</summary>
    public static void MultiplyPackedRowsByPanel<S>(int m, int n, int k, float* packA, float** rows, ref S sink) where S : struct, IPanelSink
    {
        if (!RowsByPanelSupported) throw new PlatformNotSupportedException("Gemm.MultiplyRowsByPanel needs Vector512 hardware or Vector256 with FMA");
        if (m <= 0 || n <= 0) return;
        const int nr = GemmKernels.NR512;
        int mr = RowTileRows(m), kernelCols = RowTileColumns;
        int kc = RowsDepthBlock(k);
        // m rows of one panel, plus the rows past m that a partial row tile re-reads (it writes only mr rows).
        int paddedM = (m + mr - 1) / mr * mr;
        float* panel = Buffers.C(paddedM * nr);
        float* packB = Buffers.B(nr * kc);
        float* tile = stackalloc float[mr * nr];
        for (int j = 0, cols; j < n; j += cols)
        {
            // Full panels and a 16-column half are read in place through the row pointers; a narrower
            // remainder is packed (zero past n) and run through the half kernel.
            int left = n - j;
            cols = left >= nr ? nr : left >= nr / 2 ? nr / 2 : left;
            bool inPlace = cols >= nr / 2;
            if (k == 0) new Span<float>(panel, m * nr).Clear();
            for (int pc = 0; pc < k; pc += kc)
            {
                int kcur = Math.Min(kc, k - pc);
                bool add = pc > 0;
                float** r = rows + pc;
                if (!inPlace)
                    for (int p = 0; p < kcur; p++)
                    {
                        float* s = r[p] + j, d = packB + (long)p * nr;
                        int q = 0;
                        for (; q < cols; q++) d[q] = s[q];
                        for (; q < nr / 2; q++) d[q] = 0f;
                    }
                for (int i = 0; i < m; i += mr)
                {
                    float* ai = packA + (long)paddedM * pc + (long)i * kcur;
                    float* ci = panel + (long)i * nr;
                    int rowsHere = Math.Min(mr, m - i);
                    if (!inPlace) RowTile(cols <= kernelCols / 2, kcur, ai, 1, mr, new GemmKernels.StridedB(packB, nr), ci, nr, add, rowsHere, cols, tile);
                    else
                        for (int s = 0; s < cols; s += kernelCols)
                        {
                            int width = Math.Min(kernelCols, cols - s);
                            RowTile(width <= kernelCols / 2, kcur, ai, 1, mr, new GemmKernels.RowsB(r, j + s), ci + s, nr, add, rowsHere, width, tile);
                        }
                }
            }
            sink.Panel(j, cols, panel);
        }
    }

    /// <summary>
    /// C[s*m + i, j] += sum_p A_s[i, p] * B[j, p] for every shift s, where A_s row i is the k floats at
    /// <c>a + offsets[s] + i*rowStride</c> and B is stored n x k (row stride <paramref name="ldb"/>): one product
    /// per shifted view of A, all against the same B, which is packed once per depth block. C is row-major,
    /// row stride <paramref name="ldc"/>, and accumulated into. One thread; requires <see cref="RowsByPanelSupported"/>.
    /// </summary>
    /// <remarks>
    /// This is the weight gradient of a stride-1 same convolution without im2col (see
    /// <see cref="PaddedConv.Backward"/>): A is the padded input (rows = channels, a plane apart; shift =
    /// kernel tap), B the output gradient at the padded pitch.
    /// </remarks>
    public static void AccumulateShifted(int m, int n, int k, float* a, nint rowStride, ReadOnlySpan<int> offsets, float* b, int ldb, float* c, int ldc)
    {
        if (!RowsByPanelSupported) throw new PlatformNotSupportedException("Gemm.AccumulateShifted needs Vector512 hardware or Vector256 with FMA");
        if (m <= 0 || n <= 0 || k <= 0) return;
        int mr = RowsSupported ? GemmKernels.MR512 : GemmKernels.MR256, nr = RowTileColumns;
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
                        RowTile(cols <= nr / 2, kcur, aS + i * rowStride, rowStride, 1, panel,
                            c + ((long)s * m + i) * ldc + q * nr, ldc, true, Math.Min(mr, m - i), cols, tile);
                }
            }
        }
    }
}
