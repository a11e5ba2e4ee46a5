using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// <see cref="WinogradConv"/>'s F(2x2, 3x3) on the Vector256 kernel family (AVX2 parts, which have none of the Vector512
/// convolution kernels): the same transforms over 8 tiles of a tile row per vector, and the 16 element GEMMs on the
/// 6 x 16 micro-kernels (<see cref="GemmKernels.Kernel256{R, B}"/>), U packed in their 6-row A layout.
/// </summary>
/// <remarks>
/// Patch rows are read in place with masked loads (<c>vmaskmovps</c> neither reads nor faults the masked lanes); a
/// row's even and odd columns are separated with <see cref="Simd.EvenLanes256"/> and its odd twin, and the output's
/// two columns per tile interleaved back with unpacks and a 128-bit permute.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class WinogradConv256
{
    /// <summary>True where it runs: the GEMM family of Vector256 with FMA, and AVX2's cross-lane permute.</summary>
    public static bool Supported => Gemm.RowsByPanelSupported && Avx2.IsSupported;

    // Tiles of a tile row per transform vector.
    private const int Lanes = 8;

    /// <summary>GEMM columns (tiles) per panel.</summary>
    internal const int Panel = GemmKernels.NR256;

    /// <summary>Filters per packed block of U.</summary>
    internal const int Rows = GemmKernels.MR256;

    // Tiles per group: V and M together near 256 KB, half of Zen 3's L2 (at least a panel). Groups twice that size ran
    // no faster in alternating runs and raised ResNet-56's training peak from 621.8 to 623.3 MB (the pooled scratch).
    private static int GroupTiles(int inChannels, int outChannels) => Math.Clamp(4096 / (inChannels + outChannels), Panel, 512);

    /// <summary>This class's kernels as a family of <see cref="WinogradConv"/>'s group driver.</summary>
    internal readonly struct Family : WinogradConv.IFamily
    {
        public static int Lanes => WinogradConv256.Lanes;
        public static int Panel => WinogradConv256.Panel;
        public static int GroupTiles(int inChannels, int outChannels) => WinogradConv256.GroupTiles(inChannels, outChannels);
        public static int MaskBytes => 4 * 32;

        public static void Masks(int w, int vectors, byte* inside)
        {
            var masks = (Vector256<float>*)inside;
            for (int k = 0; k < vectors; k++)
            {
                int x0 = 2 * k * Lanes - 1;
                masks[4 * k] = Inside(x0, w);
                masks[4 * k + 1] = Inside(x0 + 8, w);
                masks[4 * k + 2] = Inside(x0 + 2, w);
                masks[4 * k + 3] = Inside(x0 + 10, w);
            }
        }

        // Whole tiles straight into the 6-row kernel: through GemmKernels.Tile256's switch they ran 3-5 % slower.
        public static void Tile(bool half, int kc, float* a, int rows, GemmKernels.StridedB panel, float* c, int ldc, int mr, int nr, float* tile)
        {
            if (mr == Rows && !half) GemmKernels.Kernel256<GemmKernels.R6, GemmKernels.StridedB>(kc, a, 1, rows, panel, c, ldc, false, mr, nr, tile);
            else GemmKernels.Tile256(half, kc, a, 1, rows, panel, c, ldc, false, mr, nr, tile);
        }

        public static void TransformInputRow(float* plane, int h, int w, int ty, int tilesX, float* zeros, byte* inside, float* dst, long elementStride) =>
            WinogradConv256.TransformInputRow(plane, h, w, ty, tilesX, zeros, (Vector256<float>*)inside, dst, elementStride);

        public static void TransformOutputRow(float* m, long elementStride, int tilesX, int w, bool second, float* y, float* residual, float bias, bool relu) =>
            WinogradConv256.TransformOutputRow(m, elementStride, tilesX, w, second, y, residual, bias, relu);

        // Rows of 4 tiles (planes 7 or 8 wide) fill half a vector: two of them share one.
        public static bool PairsRows(int tilesX) => 2 * tilesX == Lanes;

        public static void TransformInputRowPair(float* planeA, int tyA, float* planeB, int tyB, int h, int w, float* zeros, byte* inside, float* dst, long elementStride) =>
            WinogradConv256.TransformInputRowPair(planeA, tyA, planeB, tyB, h, w, zeros, (Vector256<float>*)inside, dst, elementStride);

        public static void TransformOutputRowPair(float* m, long elementStride, int w, float* yA, float* residualA, bool secondA,
            float* yB, float* residualB, bool secondB, float bias, bool relu) =>
            WinogradConv256.TransformOutputRowPair(m, elementStride, w, yA, residualA, secondA, yB, residualB, secondB, bias, relu);
    }

    // V = Bt d B for tile row ty of one plane (see WinogradConv): a vector of 8 tiles reads 18 columns from 2t0-1, masked
    // to the plane's; rows outside it read `zeros`.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformInputRow(float* plane, int h, int w, int ty, int tilesX, float* zeros, Vector256<float>* inside, float* dst, long elementStride)
    {
        int top = 2 * ty - 1;
        float* r0 = top >= 0 ? plane + (long)top * w : zeros;
        float* r1 = plane + (long)(top + 1) * w;
        float* r2 = top + 2 < h ? plane + (long)(top + 2) * w : zeros;
        float* r3 = top + 3 < h ? plane + (long)(top + 3) * w : zeros;
        for (int t0 = 0; t0 < tilesX; t0 += Lanes, dst += Lanes, inside += 4)
        {
            // Bt d on columns 2t0-1 .. 2t0+14 (a, b) and 2t0+1 .. 2t0+16 (c, d).
            int x0 = 2 * t0 - 1;
            Row(r0, r1, r2, r3, x0, inside[0], out var a0, out var a1, out var a2, out var a3);
            Row(r0, r1, r2, r3, x0 + 8, inside[1], out var b0, out var b1, out var b2, out var b3);
            Row(r0, r1, r2, r3, x0 + 2, inside[2], out var c0, out var c1, out var c2, out var c3);
            Row(r0, r1, r2, r3, x0 + 10, inside[3], out var d0, out var d1, out var d2, out var d3);
            Columns(a0, b0, c0, d0, dst, elementStride);
            Columns(a1, b1, c1, d1, dst + 4 * elementStride, elementStride);
            Columns(a2, b2, c2, d2, dst + 8 * elementStride, elementStride);
            Columns(a3, b3, c3, d3, dst + 12 * elementStride, elementStride);
        }
    }

    // TransformInputRow for two rows of 4 tiles at once (planes 7 or 8 wide, where one row would fill half the lanes):
    // tile row tyA of planeA in lanes 0-3, tyB of planeB in lanes 4-7, so the four loads of a row combination are
    // columns -1 .. 6 and 1 .. 8 of each row's patch rows. On 7x7 planes, one row at a time had spent half of every
    // transform on lanes past the plane.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformInputRowPair(float* planeA, int tyA, float* planeB, int tyB, int h, int w, float* zeros, Vector256<float>* inside, float* dst, long elementStride)
    {
        PatchRows(planeA, tyA, h, w, zeros, out var a0, out var a1, out var a2, out var a3);
        PatchRows(planeB, tyB, h, w, zeros, out var b0, out var b1, out var b2, out var b3);
        Row(a0, a1, a2, a3, -1, inside[0], out var p0, out var p1, out var p2, out var p3);
        Row(b0, b1, b2, b3, -1, inside[0], out var q0, out var q1, out var q2, out var q3);
        Row(a0, a1, a2, a3, 1, inside[2], out var r0, out var r1, out var r2, out var r3);
        Row(b0, b1, b2, b3, 1, inside[2], out var s0, out var s1, out var s2, out var s3);
        Columns(p0, q0, r0, s0, dst, elementStride);
        Columns(p1, q1, r1, s1, dst + 4 * elementStride, elementStride);
        Columns(p2, q2, r2, s2, dst + 8 * elementStride, elementStride);
        Columns(p3, q3, r3, s3, dst + 12 * elementStride, elementStride);
    }

    // The four input rows tile row ty reads (rows outside the plane read `zeros`).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PatchRows(float* plane, int ty, int h, int w, float* zeros, out float* r0, out float* r1, out float* r2, out float* r3)
    {
        int top = 2 * ty - 1;
        r0 = top >= 0 ? plane + (long)top * w : zeros;
        r1 = plane + (long)(top + 1) * w;
        r2 = top + 2 < h ? plane + (long)(top + 2) * w : zeros;
        r3 = top + 3 < h ? plane + (long)(top + 3) * w : zeros;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(float* r0, float* r1, float* r2, float* r3, int at, Vector256<float> inside, out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2, out Vector256<float> t3)
    {
        var x0 = Avx.MaskLoad(r0 + at, inside);
        var x1 = Avx.MaskLoad(r1 + at, inside);
        var x2 = Avx.MaskLoad(r2 + at, inside);
        var x3 = Avx.MaskLoad(r3 + at, inside);
        t0 = x0 - x2;
        t1 = x1 + x2;
        t2 = x2 - x1;
        t3 = x1 - x3;
    }

    // (Bt d) B for one row combination of 8 tiles: columns c0, c1 from (lo, hi) and c2, c3 from (lo2, hi2) (see
    // WinogradConv.Columns).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns(Vector256<float> lo, Vector256<float> hi, Vector256<float> lo2, Vector256<float> hi2, float* dst, long elementStride)
    {
        var c0 = Simd.EvenLanes256(lo, hi);
        var c1 = Simd.OddLanes256(lo, hi);
        var c2 = Simd.EvenLanes256(lo2, hi2);
        var c3 = Simd.OddLanes256(lo2, hi2);
        (c0 - c2).Store(dst);
        (c1 + c2).Store(dst + elementStride);
        (c2 - c1).Store(dst + 2 * elementStride);
        (c1 - c3).Store(dst + 3 * elementStride);
    }

    // Y = At M A for one tile row, plus bias, residual and ReLU, into output rows y and, where it exists, y + w.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformOutputRow(float* m, long elementStride, int tilesX, int w, bool second, float* y, float* residual, float bias, bool relu)
    {
        var b = Vector256.Create(bias);
        for (int t0 = 0; t0 < tilesX; t0 += Lanes, m += Lanes)
        {
            AtM(m, elementStride, out var s00, out var s01, out var s02, out var s03, out var s10, out var s11, out var s12, out var s13);
            int x0 = 2 * t0;
            Store(s00 + s01 + s02 + b, s01 - s02 - s03 + b, y + x0, residual == null ? null : residual + x0, w - x0, relu);
            if (second) Store(s10 + s11 + s12 + b, s11 - s12 - s13 + b, y + w + x0, residual == null ? null : residual + w + x0, w - x0, relu);
        }
    }

    // TransformOutputRow for two rows of 4 tiles held by one vector (see TransformInputRowPair): lanes 0-3 give output
    // rows yA (and yA + w), lanes 4-7 rows yB (and yB + w; none when yB is null).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformOutputRowPair(float* m, long elementStride, int w, float* yA, float* residualA, bool secondA,
        float* yB, float* residualB, bool secondB, float bias, bool relu)
    {
        var b = Vector256.Create(bias);
        AtM(m, elementStride, out var s00, out var s01, out var s02, out var s03, out var s10, out var s11, out var s12, out var s13);
        StorePair(s00 + s01 + s02 + b, s01 - s02 - s03 + b, yA, residualA, yB, residualB, w, relu);
        if (secondA || secondB)
            StorePair(s10 + s11 + s12 + b, s11 - s12 - s13 + b, secondA ? yA + w : null, secondA && residualA != null ? residualA + w : null,
                secondB && yB != null ? yB + w : null, secondB && residualB != null ? residualB + w : null, w, relu);
    }

    // The 8 outputs (w of them inside the row) of each of two rows whose tiles' left (even) and right (odd) columns
    // one vector pair holds, tiles 0-3 for row A and 4-7 for row B; a null row is not written.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePair(Vector256<float> even, Vector256<float> odd, float* yA, float* residualA, float* yB, float* residualB, int w, bool relu)
    {
        var low = Avx.UnpackLow(even, odd);
        var high = Avx.UnpackHigh(even, odd);
        if (yA != null) Simd.Finish256(yA, Avx.Permute2x128(low, high, 0x20), residualA, relu, w);
        if (yB != null) Simd.Finish256(yB, Avx.Permute2x128(low, high, 0x31), residualB, relu, w);
    }


    // At M for a vector of tiles: rows (m0 + m1 + m2, m1 - m2 - m3) of each of the four element columns.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AtM(float* m, long elementStride, out Vector256<float> s00, out Vector256<float> s01, out Vector256<float> s02, out Vector256<float> s03,
        out Vector256<float> s10, out Vector256<float> s11, out Vector256<float> s12, out Vector256<float> s13)
    {
        Column(m, elementStride, out s00, out s10);
        Column(m + elementStride, elementStride, out s01, out s11);
        Column(m + 2 * elementStride, elementStride, out s02, out s12);
        Column(m + 3 * elementStride, elementStride, out s03, out s13);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Column(float* m, long elementStride, out Vector256<float> top, out Vector256<float> bottom)
    {
        var m0 = Vector256.Load(m); var m1 = Vector256.Load(m + 4 * elementStride); var m2 = Vector256.Load(m + 8 * elementStride); var m3 = Vector256.Load(m + 12 * elementStride);
        top = m0 + m1 + m2;
        bottom = m1 - m2 - m3;
    }

    // The 16 outputs of a row from column x0 on, the tiles' left (even) and right (odd) columns interleaved: unpacks pair
    // them within 128-bit lanes, a lane permute puts the halves in order; `left` of them lie inside the row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<float> even, Vector256<float> odd, float* y, float* residual, int left, bool relu)
    {
        var low = Avx.UnpackLow(even, odd);
        var high = Avx.UnpackHigh(even, odd);
        var lo = Avx.Permute2x128(low, high, 0x20);
        var hi = Avx.Permute2x128(low, high, 0x31);
        Simd.Finish256(y, lo, residual, relu, left);
        Simd.Finish256(y + Lanes, hi, residual == null ? null : residual + Lanes, relu, left - Lanes);
    }

    // Lanes of columns at .. at+7 that lie in [0, w) set.
    private static Vector256<float> Inside(int at, int w)
    {
        var column = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) + Vector256.Create(at);
        return (Vector256.GreaterThanOrEqual(column, Vector256<int>.Zero) & Vector256.LessThan(column, Vector256.Create(w))).AsSingle();
    }
}
