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
    /// each channel is one masked store instead of a strided scalar loop.
    /// </remarks>
    public static void StoreTransposed(float* tile, int width, int positions, float* dst, long plane, int count, float* bias, bool relu, float* residual = null)
    {
        Vector512<float>* v = stackalloc Vector512<float>[16];
        Vector512<float>* u = stackalloc Vector512<float>[16];
        var zero = Vector512<float>.Zero;
        for (int r0 = 0; r0 < positions; r0 += 16)
        {
            var mask = Simd.FirstLanes(positions - r0);
            for (int g = 0; g < width && g < count; g += 16)
            {
                for (int i = 0; i < 16; i++) v[i] = Vector512.Load(tile + (r0 + i) * width + g);
                for (int i = 0; i < 16; i += 2)
                {
                    u[i] = Avx512F.UnpackLow(v[i], v[i + 1]);
                    u[i + 1] = Avx512F.UnpackHigh(v[i], v[i + 1]);
                }
                for (int i = 0; i < 16; i += 4)
                {
                    v[i] = Avx512F.Shuffle(u[i], u[i + 2], 0x44);
                    v[i + 1] = Avx512F.Shuffle(u[i], u[i + 2], 0xEE);
                    v[i + 2] = Avx512F.Shuffle(u[i + 1], u[i + 3], 0x44);
                    v[i + 3] = Avx512F.Shuffle(u[i + 1], u[i + 3], 0xEE);
                }
                for (int i = 0; i < 16; i += 8)
                    for (int j = 0; j < 4; j++)
                    {
                        u[i + j] = Avx512F.Shuffle4x128(v[i + j], v[i + 4 + j], 0x88);
                        u[i + 4 + j] = Avx512F.Shuffle4x128(v[i + j], v[i + 4 + j], 0xDD);
                    }
                for (int j = 0; j < 8; j++)
                {
                    v[j] = Avx512F.Shuffle4x128(u[j], u[8 + j], 0x88);
                    v[8 + j] = Avx512F.Shuffle4x128(u[j], u[8 + j], 0xDD);
                }
                // v[o] now holds channel g + o at positions r0 .. r0 + 15.
                int channels = Math.Min(16, count - g);
                for (int o = 0; o < channels; o++)
                {
                    var x = v[o];
                    if (bias != null) x += Vector512.Create(bias[g + o]);
                    if (residual != null) x += Avx512F.MaskLoad(residual + (g + o) * plane + r0, mask, zero);
                    if (relu) x = Vector512.Max(x, zero);
                    Avx512F.MaskStore(dst + (g + o) * plane + r0, mask, x);
                }
            }
        }
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
