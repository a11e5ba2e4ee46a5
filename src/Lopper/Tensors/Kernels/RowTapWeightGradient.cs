using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// The weight gradient of a stride-1 3x3 convolution as <see cref="Gemm.AccumulateShifted"/> computes it, with each
/// input element broadcast once for the three taps of a kernel row: tap (ky, kx) reads the padded input shifted by
/// kx, so element q of a row is tap kx's element q - kx, and it meets the output gradient at depth q - kx. The
/// gradient is packed as 16-channel vectors per depth step with two zero steps at either end, and a sliding window
/// of three of them feeds the three taps' accumulators.
/// </summary>
/// <remarks>
/// <see cref="Gemm.AccumulateShifted"/> on a 16-channel layer has one 16-wide panel of output channels, so its
/// tiles need one broadcast per multiply-add and run at about two thirds of the FMA rate (ResNet-56's 16-channel
/// stage's backward at about 210 GFLOP/s against 300 for the wider stages). Here a step costs R broadcasts and one
/// vector load for 3R multiply-adds. Eight rows: 24 accumulators, the three window vectors and the broadcast fit
/// the 32 zmm registers.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class RowTapWeightGradient
{
    /// <summary>Input channels per tile.</summary>
    public const int Rows = 8;

    /// <summary>True where this runs (Vector512 hardware, as <see cref="Gemm.AccumulateShifted"/>).</summary>
    public static bool Supported => Gemm.RowsSupported;

    /// <summary>
    /// <c>c[((ky*3 + kx)*m + i)*ldc + j] += sum over q &lt; k of a[i*rowStride + ky*pitch + kx + q] * b[j*ldb + q]</c>
    /// for the nine taps of a 3x3 kernel: <see cref="Gemm.AccumulateShifted"/> with the offsets ky*pitch + kx. The
    /// input rows are read at q + kx up to k + 1, as there. One thread.
    /// </summary>
    public static void Accumulate(int m, int n, int k, float* a, nint rowStride, int pitch, float* b, int ldb, float* c, int ldc)
    {
        if (m <= 0 || n <= 0 || k <= 0) return;
        int steps = k + 4, blocks = (n + 15) / 16;
        float* packed = Gemm.PanelBuffer(blocks * steps * 16);
        for (int jb = 0; jb < blocks; jb++)
        {
            float* block = packed + (long)jb * steps * 16;
            new Span<float>(block, 32).Clear();
            GemmKernels.PackB(true, b, ldb, 0, k, jb * 16, Math.Min(16, n - jb * 16), 16, block + 32);
            new Span<float>(block + (long)(k + 2) * 16, 32).Clear();
        }
        for (int ky = 0; ky < 3; ky++)
            for (int jb = 0; jb < blocks; jb++)
            {
                int cols = Math.Min(16, n - jb * 16);
                for (int i0 = 0; i0 < m; i0 += Rows)
                {
                    float* rowsA = a + i0 * rowStride + ky * pitch;
                    float* cTile = c + ((long)(ky * 3) * m + i0) * ldc + jb * 16;
                    long tapStride = (long)m * ldc;
                    ByRows[Math.Min(Rows, m - i0)](k + 2, rowsA, rowStride, packed + (long)jb * steps * 16, cTile, ldc, tapStride, cols);
                }
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<R>(int count, float* a, nint rs, float* bt, float* c, int ldc, long tapStride, int cols) where R : struct, GemmKernels.IRows
    {
        int last = R.N - 1;
        float* a0 = a + Math.Min(0, last) * rs;
        float* a1 = a + Math.Min(1, last) * rs;
        float* a2 = a + Math.Min(2, last) * rs;
        float* a3 = a + Math.Min(3, last) * rs;
        float* a4 = a + Math.Min(4, last) * rs;
        float* a5 = a + Math.Min(5, last) * rs;
        float* a6 = a + Math.Min(6, last) * rs;
        float* a7 = a + Math.Min(7, last) * rs;
        var z = Vector512<float>.Zero;
        Vector512<float> s00 = z, s01 = z, s02 = z;
        Vector512<float> s10 = z, s11 = z, s12 = z;
        Vector512<float> s20 = z, s21 = z, s22 = z;
        Vector512<float> s30 = z, s31 = z, s32 = z;
        Vector512<float> s40 = z, s41 = z, s42 = z;
        Vector512<float> s50 = z, s51 = z, s52 = z;
        Vector512<float> s60 = z, s61 = z, s62 = z;
        Vector512<float> s70 = z, s71 = z, s72 = z;
        // Window: v0 = gradient at depth q, v1 at q - 1, v2 at q - 2 (zero outside 0..k-1).
        var v1 = Vector512.Load(bt + 16);
        var v2 = Vector512.Load(bt);
        for (int q = 0; q < count; q++)
        {
            var v0 = Vector512.Load(bt + (long)(q + 2) * 16);
            Vector512<float> x;
            if (R.N > 0) { x = Vector512.Create(a0[q]); s00 = Vector512.FusedMultiplyAdd(x, v0, s00); s01 = Vector512.FusedMultiplyAdd(x, v1, s01); s02 = Vector512.FusedMultiplyAdd(x, v2, s02); }
            if (R.N > 1) { x = Vector512.Create(a1[q]); s10 = Vector512.FusedMultiplyAdd(x, v0, s10); s11 = Vector512.FusedMultiplyAdd(x, v1, s11); s12 = Vector512.FusedMultiplyAdd(x, v2, s12); }
            if (R.N > 2) { x = Vector512.Create(a2[q]); s20 = Vector512.FusedMultiplyAdd(x, v0, s20); s21 = Vector512.FusedMultiplyAdd(x, v1, s21); s22 = Vector512.FusedMultiplyAdd(x, v2, s22); }
            if (R.N > 3) { x = Vector512.Create(a3[q]); s30 = Vector512.FusedMultiplyAdd(x, v0, s30); s31 = Vector512.FusedMultiplyAdd(x, v1, s31); s32 = Vector512.FusedMultiplyAdd(x, v2, s32); }
            if (R.N > 4) { x = Vector512.Create(a4[q]); s40 = Vector512.FusedMultiplyAdd(x, v0, s40); s41 = Vector512.FusedMultiplyAdd(x, v1, s41); s42 = Vector512.FusedMultiplyAdd(x, v2, s42); }
            if (R.N > 5) { x = Vector512.Create(a5[q]); s50 = Vector512.FusedMultiplyAdd(x, v0, s50); s51 = Vector512.FusedMultiplyAdd(x, v1, s51); s52 = Vector512.FusedMultiplyAdd(x, v2, s52); }
            if (R.N > 6) { x = Vector512.Create(a6[q]); s60 = Vector512.FusedMultiplyAdd(x, v0, s60); s61 = Vector512.FusedMultiplyAdd(x, v1, s61); s62 = Vector512.FusedMultiplyAdd(x, v2, s62); }
            if (R.N > 7) { x = Vector512.Create(a7[q]); s70 = Vector512.FusedMultiplyAdd(x, v0, s70); s71 = Vector512.FusedMultiplyAdd(x, v1, s71); s72 = Vector512.FusedMultiplyAdd(x, v2, s72); }
            v2 = v1;
            v1 = v0;
        }
        var mask = Simd.FirstLanes(cols);
        if (R.N > 0) { Add(s00, c + 0 * ldc, mask); Add(s01, c + tapStride + 0 * ldc, mask); Add(s02, c + 2 * tapStride + 0 * ldc, mask); }
        if (R.N > 1) { Add(s10, c + 1 * ldc, mask); Add(s11, c + tapStride + 1 * ldc, mask); Add(s12, c + 2 * tapStride + 1 * ldc, mask); }
        if (R.N > 2) { Add(s20, c + 2 * ldc, mask); Add(s21, c + tapStride + 2 * ldc, mask); Add(s22, c + 2 * tapStride + 2 * ldc, mask); }
        if (R.N > 3) { Add(s30, c + 3 * ldc, mask); Add(s31, c + tapStride + 3 * ldc, mask); Add(s32, c + 2 * tapStride + 3 * ldc, mask); }
        if (R.N > 4) { Add(s40, c + 4 * ldc, mask); Add(s41, c + tapStride + 4 * ldc, mask); Add(s42, c + 2 * tapStride + 4 * ldc, mask); }
        if (R.N > 5) { Add(s50, c + 5 * ldc, mask); Add(s51, c + tapStride + 5 * ldc, mask); Add(s52, c + 2 * tapStride + 5 * ldc, mask); }
        if (R.N > 6) { Add(s60, c + 6 * ldc, mask); Add(s61, c + tapStride + 6 * ldc, mask); Add(s62, c + 2 * tapStride + 6 * ldc, mask); }
        if (R.N > 7) { Add(s70, c + 7 * ldc, mask); Add(s71, c + tapStride + 7 * ldc, mask); Add(s72, c + 2 * tapStride + 7 * ldc, mask); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(Vector512<float> v, float* p, Vector512<float> mask) =>
        Avx512F.MaskStore(p, mask, v + Avx512F.MaskLoad(p, mask, Vector512<float>.Zero));

    private static readonly delegate*<int, float*, nint, float*, float*, int, long, int, void>[] ByRows =
    [
        null,
        &Tile<GemmKernels.R1>,
        &Tile<GemmKernels.R2>,
        &Tile<GemmKernels.R3>,
        &Tile<GemmKernels.R4>,
        &Tile<GemmKernels.R5>,
        &Tile<GemmKernels.R6>,
        &Tile<GemmKernels.R7>,
        &Tile<GemmKernels.R8>
    ];
}
