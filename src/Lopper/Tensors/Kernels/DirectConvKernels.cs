using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// Register tiles of a direct convolution: R consecutive output positions of one row times 16 or 32 output
/// channels, accumulated over depth p = (input channel, tap). Position r at depth p reads the padded input at
/// <c>a + offsets[p] + r</c> (a broadcast), and the channels' weights are one or two vectors of the packed
/// block at <c>w + p*VW</c>. The tile is written position-major to <c>tile</c> (R x VW floats).
/// </summary>
/// <remarks>
/// The accumulators are vectors over output channels, so a tile covers exactly the valid positions of a row:
/// no pitch columns and no partial GEMM panels are computed, which is what a 7- or 14-wide plane lost in
/// the GEMM formulation (32-column panels). 28 accumulators plus the weight vectors and the broadcast fit the
/// 32 zmm registers. Rows are type arguments (as in GemmKernels) so the JIT drops unused positions.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class DirectConvKernels
{
    /// <summary>Most positions of a 32-channel (two-vector) tile.</summary>
    public const int MaxPositions32 = 14;

    /// <summary>Most positions of a 16-channel (one-vector) tile.</summary>
    public const int MaxPositions16 = 28;

    /// <summary>Up to 14 positions x 32 channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile32<R>(int depth, float* a, int* offsets, float* w, float* tile) where R : struct, GemmKernels.IRows
    {
        var z = Vector512<float>.Zero;
        Vector512<float> c0a = z, c0b = z;
        Vector512<float> c1a = z, c1b = z;
        Vector512<float> c2a = z, c2b = z;
        Vector512<float> c3a = z, c3b = z;
        Vector512<float> c4a = z, c4b = z;
        Vector512<float> c5a = z, c5b = z;
        Vector512<float> c6a = z, c6b = z;
        Vector512<float> c7a = z, c7b = z;
        Vector512<float> c8a = z, c8b = z;
        Vector512<float> c9a = z, c9b = z;
        Vector512<float> c10a = z, c10b = z;
        Vector512<float> c11a = z, c11b = z;
        Vector512<float> c12a = z, c12b = z;
        Vector512<float> c13a = z, c13b = z;
        for (int p = 0; p < depth; p++, w += 32)
        {
            float* s = a + offsets[p];
            var w0 = Vector512.Load(w);
            var w1 = Vector512.Load(w + 16);
            Vector512<float> x;
            if (R.N > 0) { x = Vector512.Create(s[0]); c0a = Vector512.FusedMultiplyAdd(x, w0, c0a); c0b = Vector512.FusedMultiplyAdd(x, w1, c0b); }
            if (R.N > 1) { x = Vector512.Create(s[1]); c1a = Vector512.FusedMultiplyAdd(x, w0, c1a); c1b = Vector512.FusedMultiplyAdd(x, w1, c1b); }
            if (R.N > 2) { x = Vector512.Create(s[2]); c2a = Vector512.FusedMultiplyAdd(x, w0, c2a); c2b = Vector512.FusedMultiplyAdd(x, w1, c2b); }
            if (R.N > 3) { x = Vector512.Create(s[3]); c3a = Vector512.FusedMultiplyAdd(x, w0, c3a); c3b = Vector512.FusedMultiplyAdd(x, w1, c3b); }
            if (R.N > 4) { x = Vector512.Create(s[4]); c4a = Vector512.FusedMultiplyAdd(x, w0, c4a); c4b = Vector512.FusedMultiplyAdd(x, w1, c4b); }
            if (R.N > 5) { x = Vector512.Create(s[5]); c5a = Vector512.FusedMultiplyAdd(x, w0, c5a); c5b = Vector512.FusedMultiplyAdd(x, w1, c5b); }
            if (R.N > 6) { x = Vector512.Create(s[6]); c6a = Vector512.FusedMultiplyAdd(x, w0, c6a); c6b = Vector512.FusedMultiplyAdd(x, w1, c6b); }
            if (R.N > 7) { x = Vector512.Create(s[7]); c7a = Vector512.FusedMultiplyAdd(x, w0, c7a); c7b = Vector512.FusedMultiplyAdd(x, w1, c7b); }
            if (R.N > 8) { x = Vector512.Create(s[8]); c8a = Vector512.FusedMultiplyAdd(x, w0, c8a); c8b = Vector512.FusedMultiplyAdd(x, w1, c8b); }
            if (R.N > 9) { x = Vector512.Create(s[9]); c9a = Vector512.FusedMultiplyAdd(x, w0, c9a); c9b = Vector512.FusedMultiplyAdd(x, w1, c9b); }
            if (R.N > 10) { x = Vector512.Create(s[10]); c10a = Vector512.FusedMultiplyAdd(x, w0, c10a); c10b = Vector512.FusedMultiplyAdd(x, w1, c10b); }
            if (R.N > 11) { x = Vector512.Create(s[11]); c11a = Vector512.FusedMultiplyAdd(x, w0, c11a); c11b = Vector512.FusedMultiplyAdd(x, w1, c11b); }
            if (R.N > 12) { x = Vector512.Create(s[12]); c12a = Vector512.FusedMultiplyAdd(x, w0, c12a); c12b = Vector512.FusedMultiplyAdd(x, w1, c12b); }
            if (R.N > 13) { x = Vector512.Create(s[13]); c13a = Vector512.FusedMultiplyAdd(x, w0, c13a); c13b = Vector512.FusedMultiplyAdd(x, w1, c13b); }
        }
        if (R.N > 0) { c0a.Store(tile + 0); c0b.Store(tile + 16); }
        if (R.N > 1) { c1a.Store(tile + 32); c1b.Store(tile + 48); }
        if (R.N > 2) { c2a.Store(tile + 64); c2b.Store(tile + 80); }
        if (R.N > 3) { c3a.Store(tile + 96); c3b.Store(tile + 112); }
        if (R.N > 4) { c4a.Store(tile + 128); c4b.Store(tile + 144); }
        if (R.N > 5) { c5a.Store(tile + 160); c5b.Store(tile + 176); }
        if (R.N > 6) { c6a.Store(tile + 192); c6b.Store(tile + 208); }
        if (R.N > 7) { c7a.Store(tile + 224); c7b.Store(tile + 240); }
        if (R.N > 8) { c8a.Store(tile + 256); c8b.Store(tile + 272); }
        if (R.N > 9) { c9a.Store(tile + 288); c9b.Store(tile + 304); }
        if (R.N > 10) { c10a.Store(tile + 320); c10b.Store(tile + 336); }
        if (R.N > 11) { c11a.Store(tile + 352); c11b.Store(tile + 368); }
        if (R.N > 12) { c12a.Store(tile + 384); c12b.Store(tile + 400); }
        if (R.N > 13) { c13a.Store(tile + 416); c13b.Store(tile + 432); }
    }

    /// <summary>Up to 28 positions x 16 channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile16<R>(int depth, float* a, int* offsets, float* w, float* tile) where R : struct, GemmKernels.IRows
    {
        var z = Vector512<float>.Zero;
        Vector512<float> c0 = z, c1 = z, c2 = z, c3 = z;
        Vector512<float> c4 = z, c5 = z, c6 = z, c7 = z;
        Vector512<float> c8 = z, c9 = z, c10 = z, c11 = z;
        Vector512<float> c12 = z, c13 = z, c14 = z, c15 = z;
        Vector512<float> c16 = z, c17 = z, c18 = z, c19 = z;
        Vector512<float> c20 = z, c21 = z, c22 = z, c23 = z;
        Vector512<float> c24 = z, c25 = z, c26 = z, c27 = z;
        for (int p = 0; p < depth; p++, w += 16)
        {
            float* s = a + offsets[p];
            var w0 = Vector512.Load(w);
            if (R.N > 0) c0 = Vector512.FusedMultiplyAdd(Vector512.Create(s[0]), w0, c0);
            if (R.N > 1) c1 = Vector512.FusedMultiplyAdd(Vector512.Create(s[1]), w0, c1);
            if (R.N > 2) c2 = Vector512.FusedMultiplyAdd(Vector512.Create(s[2]), w0, c2);
            if (R.N > 3) c3 = Vector512.FusedMultiplyAdd(Vector512.Create(s[3]), w0, c3);
            if (R.N > 4) c4 = Vector512.FusedMultiplyAdd(Vector512.Create(s[4]), w0, c4);
            if (R.N > 5) c5 = Vector512.FusedMultiplyAdd(Vector512.Create(s[5]), w0, c5);
            if (R.N > 6) c6 = Vector512.FusedMultiplyAdd(Vector512.Create(s[6]), w0, c6);
            if (R.N > 7) c7 = Vector512.FusedMultiplyAdd(Vector512.Create(s[7]), w0, c7);
            if (R.N > 8) c8 = Vector512.FusedMultiplyAdd(Vector512.Create(s[8]), w0, c8);
            if (R.N > 9) c9 = Vector512.FusedMultiplyAdd(Vector512.Create(s[9]), w0, c9);
            if (R.N > 10) c10 = Vector512.FusedMultiplyAdd(Vector512.Create(s[10]), w0, c10);
            if (R.N > 11) c11 = Vector512.FusedMultiplyAdd(Vector512.Create(s[11]), w0, c11);
            if (R.N > 12) c12 = Vector512.FusedMultiplyAdd(Vector512.Create(s[12]), w0, c12);
            if (R.N > 13) c13 = Vector512.FusedMultiplyAdd(Vector512.Create(s[13]), w0, c13);
            if (R.N > 14) c14 = Vector512.FusedMultiplyAdd(Vector512.Create(s[14]), w0, c14);
            if (R.N > 15) c15 = Vector512.FusedMultiplyAdd(Vector512.Create(s[15]), w0, c15);
            if (R.N > 16) c16 = Vector512.FusedMultiplyAdd(Vector512.Create(s[16]), w0, c16);
            if (R.N > 17) c17 = Vector512.FusedMultiplyAdd(Vector512.Create(s[17]), w0, c17);
            if (R.N > 18) c18 = Vector512.FusedMultiplyAdd(Vector512.Create(s[18]), w0, c18);
            if (R.N > 19) c19 = Vector512.FusedMultiplyAdd(Vector512.Create(s[19]), w0, c19);
            if (R.N > 20) c20 = Vector512.FusedMultiplyAdd(Vector512.Create(s[20]), w0, c20);
            if (R.N > 21) c21 = Vector512.FusedMultiplyAdd(Vector512.Create(s[21]), w0, c21);
            if (R.N > 22) c22 = Vector512.FusedMultiplyAdd(Vector512.Create(s[22]), w0, c22);
            if (R.N > 23) c23 = Vector512.FusedMultiplyAdd(Vector512.Create(s[23]), w0, c23);
            if (R.N > 24) c24 = Vector512.FusedMultiplyAdd(Vector512.Create(s[24]), w0, c24);
            if (R.N > 25) c25 = Vector512.FusedMultiplyAdd(Vector512.Create(s[25]), w0, c25);
            if (R.N > 26) c26 = Vector512.FusedMultiplyAdd(Vector512.Create(s[26]), w0, c26);
            if (R.N > 27) c27 = Vector512.FusedMultiplyAdd(Vector512.Create(s[27]), w0, c27);
        }
        if (R.N > 0) c0.Store(tile + 0);
        if (R.N > 1) c1.Store(tile + 16);
        if (R.N > 2) c2.Store(tile + 32);
        if (R.N > 3) c3.Store(tile + 48);
        if (R.N > 4) c4.Store(tile + 64);
        if (R.N > 5) c5.Store(tile + 80);
        if (R.N > 6) c6.Store(tile + 96);
        if (R.N > 7) c7.Store(tile + 112);
        if (R.N > 8) c8.Store(tile + 128);
        if (R.N > 9) c9.Store(tile + 144);
        if (R.N > 10) c10.Store(tile + 160);
        if (R.N > 11) c11.Store(tile + 176);
        if (R.N > 12) c12.Store(tile + 192);
        if (R.N > 13) c13.Store(tile + 208);
        if (R.N > 14) c14.Store(tile + 224);
        if (R.N > 15) c15.Store(tile + 240);
        if (R.N > 16) c16.Store(tile + 256);
        if (R.N > 17) c17.Store(tile + 272);
        if (R.N > 18) c18.Store(tile + 288);
        if (R.N > 19) c19.Store(tile + 304);
        if (R.N > 20) c20.Store(tile + 320);
        if (R.N > 21) c21.Store(tile + 336);
        if (R.N > 22) c22.Store(tile + 352);
        if (R.N > 23) c23.Store(tile + 368);
        if (R.N > 24) c24.Store(tile + 384);
        if (R.N > 25) c25.Store(tile + 400);
        if (R.N > 26) c26.Store(tile + 416);
        if (R.N > 27) c27.Store(tile + 432);
    }

    /// <summary>Floats of tile scratch: room for 32 rows of 16 or 16 rows of 32, as the transpose reads whole 16 x 16 blocks.</summary>
    public const int TileFloats = 512;

    /// <summary>
    /// Writes a tile (<paramref name="positions"/> rows of <paramref name="width"/> channels) to channel-major
    /// output: channel o's positions go to <c>dst + o*plane</c>, plus its bias, with an optional ReLU.
    /// Only the first <paramref name="count"/> channels are written. A <paramref name="residual"/> laid out as
    /// <paramref name="dst"/> is added before the ReLU.
    /// </summary>
    /// <remarks>
    /// 16 x 16 blocks are transposed in registers (unpack, in-lane shuffle, two 128-bit-lane shuffles), so
    /// each channel is one masked store instead of a strided scalar loop. The transpose keeps its vectors in
    /// locals: held in a stackalloc'd array (not 64-byte aligned) every stage's loads missed store forwarding,
    /// and the store cost a quarter of a 14x14 layer's time.
    /// </remarks>
    public static void StoreTransposed(float* tile, int width, int positions, float* dst, long plane, int count, float* bias, bool relu, float* residual = null)
    {
        for (int r0 = 0; r0 < positions; r0 += 16)
        {
            var mask = Simd.FirstLanes(positions - r0);
            for (int g = 0; g < width && g < count; g += 16)
            {
                long at = g * plane + r0;
                Block16(tile + r0 * width + g, width, dst + at, plane, Math.Min(16, count - g), mask,
                    bias == null ? null : bias + g, relu, residual == null ? null : residual + at);
            }
        }
    }

    // Rows src + i*stride (i < 16) of 16 channels, transposed: channel o (o < channels) to dst + o*plane.
    // Too big to inline; without loops it would start unoptimised (tier 0) and spill every vector.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block16(float* src, int stride, float* dst, long plane, int channels, Vector512<float> mask, float* bias, bool relu, float* residual)
    {
        var a0 = Vector512.Load(src);
        var a1 = Vector512.Load(src + 1 * stride);
        var a2 = Vector512.Load(src + 2 * stride);
        var a3 = Vector512.Load(src + 3 * stride);
        var a4 = Vector512.Load(src + 4 * stride);
        var a5 = Vector512.Load(src + 5 * stride);
        var a6 = Vector512.Load(src + 6 * stride);
        var a7 = Vector512.Load(src + 7 * stride);
        var a8 = Vector512.Load(src + 8 * stride);
        var a9 = Vector512.Load(src + 9 * stride);
        var a10 = Vector512.Load(src + 10 * stride);
        var a11 = Vector512.Load(src + 11 * stride);
        var a12 = Vector512.Load(src + 12 * stride);
        var a13 = Vector512.Load(src + 13 * stride);
        var a14 = Vector512.Load(src + 14 * stride);
        var a15 = Vector512.Load(src + 15 * stride);
        var b0 = Avx512F.UnpackLow(a0, a1); var b1 = Avx512F.UnpackHigh(a0, a1);
        var b2 = Avx512F.UnpackLow(a2, a3); var b3 = Avx512F.UnpackHigh(a2, a3);
        var b4 = Avx512F.UnpackLow(a4, a5); var b5 = Avx512F.UnpackHigh(a4, a5);
        var b6 = Avx512F.UnpackLow(a6, a7); var b7 = Avx512F.UnpackHigh(a6, a7);
        var b8 = Avx512F.UnpackLow(a8, a9); var b9 = Avx512F.UnpackHigh(a8, a9);
        var b10 = Avx512F.UnpackLow(a10, a11); var b11 = Avx512F.UnpackHigh(a10, a11);
        var b12 = Avx512F.UnpackLow(a12, a13); var b13 = Avx512F.UnpackHigh(a12, a13);
        var b14 = Avx512F.UnpackLow(a14, a15); var b15 = Avx512F.UnpackHigh(a14, a15);
        var c0 = Avx512F.Shuffle(b0, b2, 0x44); var c1 = Avx512F.Shuffle(b0, b2, 0xEE);
        var c2 = Avx512F.Shuffle(b1, b3, 0x44); var c3 = Avx512F.Shuffle(b1, b3, 0xEE);
        var c4 = Avx512F.Shuffle(b4, b6, 0x44); var c5 = Avx512F.Shuffle(b4, b6, 0xEE);
        var c6 = Avx512F.Shuffle(b5, b7, 0x44); var c7 = Avx512F.Shuffle(b5, b7, 0xEE);
        var c8 = Avx512F.Shuffle(b8, b10, 0x44); var c9 = Avx512F.Shuffle(b8, b10, 0xEE);
        var c10 = Avx512F.Shuffle(b9, b11, 0x44); var c11 = Avx512F.Shuffle(b9, b11, 0xEE);
        var c12 = Avx512F.Shuffle(b12, b14, 0x44); var c13 = Avx512F.Shuffle(b12, b14, 0xEE);
        var c14 = Avx512F.Shuffle(b13, b15, 0x44); var c15 = Avx512F.Shuffle(b13, b15, 0xEE);
        var d0 = Avx512F.Shuffle4x128(c0, c4, 0x88); var d4 = Avx512F.Shuffle4x128(c0, c4, 0xDD);
        var d1 = Avx512F.Shuffle4x128(c1, c5, 0x88); var d5 = Avx512F.Shuffle4x128(c1, c5, 0xDD);
        var d2 = Avx512F.Shuffle4x128(c2, c6, 0x88); var d6 = Avx512F.Shuffle4x128(c2, c6, 0xDD);
        var d3 = Avx512F.Shuffle4x128(c3, c7, 0x88); var d7 = Avx512F.Shuffle4x128(c3, c7, 0xDD);
        var d8 = Avx512F.Shuffle4x128(c8, c12, 0x88); var d12 = Avx512F.Shuffle4x128(c8, c12, 0xDD);
        var d9 = Avx512F.Shuffle4x128(c9, c13, 0x88); var d13 = Avx512F.Shuffle4x128(c9, c13, 0xDD);
        var d10 = Avx512F.Shuffle4x128(c10, c14, 0x88); var d14 = Avx512F.Shuffle4x128(c10, c14, 0xDD);
        var d11 = Avx512F.Shuffle4x128(c11, c15, 0x88); var d15 = Avx512F.Shuffle4x128(c11, c15, 0xDD);
        var e0 = Avx512F.Shuffle4x128(d0, d8, 0x88); var e8 = Avx512F.Shuffle4x128(d0, d8, 0xDD);
        var e1 = Avx512F.Shuffle4x128(d1, d9, 0x88); var e9 = Avx512F.Shuffle4x128(d1, d9, 0xDD);
        var e2 = Avx512F.Shuffle4x128(d2, d10, 0x88); var e10 = Avx512F.Shuffle4x128(d2, d10, 0xDD);
        var e3 = Avx512F.Shuffle4x128(d3, d11, 0x88); var e11 = Avx512F.Shuffle4x128(d3, d11, 0xDD);
        var e4 = Avx512F.Shuffle4x128(d4, d12, 0x88); var e12 = Avx512F.Shuffle4x128(d4, d12, 0xDD);
        var e5 = Avx512F.Shuffle4x128(d5, d13, 0x88); var e13 = Avx512F.Shuffle4x128(d5, d13, 0xDD);
        var e6 = Avx512F.Shuffle4x128(d6, d14, 0x88); var e14 = Avx512F.Shuffle4x128(d6, d14, 0xDD);
        var e7 = Avx512F.Shuffle4x128(d7, d15, 0x88); var e15 = Avx512F.Shuffle4x128(d7, d15, 0xDD);
        // e[o] now holds channel o at the 16 positions.
        Put(e0, 0, dst, plane, mask, bias, relu, residual);
        if (channels > 1) Put(e1, 1, dst, plane, mask, bias, relu, residual);
        if (channels > 2) Put(e2, 2, dst, plane, mask, bias, relu, residual);
        if (channels > 3) Put(e3, 3, dst, plane, mask, bias, relu, residual);
        if (channels > 4) Put(e4, 4, dst, plane, mask, bias, relu, residual);
        if (channels > 5) Put(e5, 5, dst, plane, mask, bias, relu, residual);
        if (channels > 6) Put(e6, 6, dst, plane, mask, bias, relu, residual);
        if (channels > 7) Put(e7, 7, dst, plane, mask, bias, relu, residual);
        if (channels > 8) Put(e8, 8, dst, plane, mask, bias, relu, residual);
        if (channels > 9) Put(e9, 9, dst, plane, mask, bias, relu, residual);
        if (channels > 10) Put(e10, 10, dst, plane, mask, bias, relu, residual);
        if (channels > 11) Put(e11, 11, dst, plane, mask, bias, relu, residual);
        if (channels > 12) Put(e12, 12, dst, plane, mask, bias, relu, residual);
        if (channels > 13) Put(e13, 13, dst, plane, mask, bias, relu, residual);
        if (channels > 14) Put(e14, 14, dst, plane, mask, bias, relu, residual);
        if (channels > 15) Put(e15, 15, dst, plane, mask, bias, relu, residual);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(Vector512<float> x, int o, float* dst, long plane, Vector512<float> mask, float* bias, bool relu, float* residual)
    {
        if (bias != null) x += Vector512.Create(bias[o]);
        if (residual != null) x += Avx512F.MaskLoad(residual + o * plane, mask, Vector512<float>.Zero);
        if (relu) x = Vector512.Max(x, Vector512<float>.Zero);
        Avx512F.MaskStore(dst + o * plane, mask, x);
    }

    /// <summary>Tile32 by position count (index 1..14).</summary>
    public static readonly delegate*<int, float*, int*, float*, float*, void>[] By32 =
    [
        null,
        &Tile32<GemmKernels.R1>,
        &Tile32<GemmKernels.R2>,
        &Tile32<GemmKernels.R3>,
        &Tile32<GemmKernels.R4>,
        &Tile32<GemmKernels.R5>,
        &Tile32<GemmKernels.R6>,
        &Tile32<GemmKernels.R7>,
        &Tile32<GemmKernels.R8>,
        &Tile32<GemmKernels.R9>,
        &Tile32<GemmKernels.R10>,
        &Tile32<GemmKernels.R11>,
        &Tile32<GemmKernels.R12>,
        &Tile32<GemmKernels.R13>,
        &Tile32<GemmKernels.R14>
    ];

    /// <summary>Tile16 by position count (index 1..28).</summary>
    public static readonly delegate*<int, float*, int*, float*, float*, void>[] By16 =
    [
        null,
        &Tile16<GemmKernels.R1>,
        &Tile16<GemmKernels.R2>,
        &Tile16<GemmKernels.R3>,
        &Tile16<GemmKernels.R4>,
        &Tile16<GemmKernels.R5>,
        &Tile16<GemmKernels.R6>,
        &Tile16<GemmKernels.R7>,
        &Tile16<GemmKernels.R8>,
        &Tile16<GemmKernels.R9>,
        &Tile16<GemmKernels.R10>,
        &Tile16<GemmKernels.R11>,
        &Tile16<GemmKernels.R12>,
        &Tile16<GemmKernels.R13>,
        &Tile16<GemmKernels.R14>,
        &Tile16<GemmKernels.R15>,
        &Tile16<GemmKernels.R16>,
        &Tile16<GemmKernels.R17>,
        &Tile16<GemmKernels.R18>,
        &Tile16<GemmKernels.R19>,
        &Tile16<GemmKernels.R20>,
        &Tile16<GemmKernels.R21>,
        &Tile16<GemmKernels.R22>,
        &Tile16<GemmKernels.R23>,
        &Tile16<GemmKernels.R24>,
        &Tile16<GemmKernels.R25>,
        &Tile16<GemmKernels.R26>,
        &Tile16<GemmKernels.R27>,
        &Tile16<GemmKernels.R28>
    ];
}
