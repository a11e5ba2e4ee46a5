using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// Direct-convolution tiles for a 3-wide kernel row and 16 output channels: R consecutive output positions of
/// one row, accumulated over depth steps q = (input channel, kernel row). Step q reads the padded input row at
/// <c>a + offsets[q]</c>; input element i of it is broadcast once and feeds up to three accumulators (positions
/// i, i-1 and i-2, through the row's three tap vectors <c>w + q*48</c>, <c>+16</c>, <c>+32</c>). The tile is
/// written position-major to <c>tile</c> (R x 16 floats), as <see cref="DirectConvKernels.Tile16{R}"/> writes it.
/// </summary>
/// <remarks>
/// A 16-channel tile has one weight vector per tap, so <see cref="DirectConvKernels.Tile16{R}"/> needs one
/// broadcast load per multiply-add, and load ports, not the FMA units, set its pace (ResNet-20's 16-channel stage
/// ran at about 240 GFLOP/s on two Zen 5 cores where the 32-channel tiles reached 320). Sharing each broadcast
/// across the three taps of a kernel row brings that to R + 2 broadcasts and 3 weight loads per 3R multiply-adds.
/// Up to 24 positions: 24 accumulators, the three tap vectors and the broadcast stay in the 32 zmm registers.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class RowTapKernels
{
    /// <summary>Most positions of a tile.</summary>
    public const int MaxPositions = 24;

    /// <summary>Up to 24 positions x 16 channels, three taps per depth step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile16Taps3<R>(int depth, float* a, int* offsets, float* w, float* tile) where R : struct, GemmKernels.IRows
    {
        var z = Vector512<float>.Zero;
        Vector512<float> c0 = z, c1 = z, c2 = z, c3 = z;
        Vector512<float> c4 = z, c5 = z, c6 = z, c7 = z;
        Vector512<float> c8 = z, c9 = z, c10 = z, c11 = z;
        Vector512<float> c12 = z, c13 = z, c14 = z, c15 = z;
        Vector512<float> c16 = z, c17 = z, c18 = z, c19 = z;
        Vector512<float> c20 = z, c21 = z, c22 = z, c23 = z;
        for (int q = 0; q < depth; q++, w += 48)
        {
            float* s = a + offsets[q];
            var w0 = Vector512.Load(w);
            var w1 = Vector512.Load(w + 16);
            var w2 = Vector512.Load(w + 32);
            Vector512<float> x;
            x = Vector512.Create(s[0]); if (R.N > 0) c0 = Vector512.FusedMultiplyAdd(x, w0, c0);
            x = Vector512.Create(s[1]); if (R.N > 1) c1 = Vector512.FusedMultiplyAdd(x, w0, c1); if (R.N > 0) c0 = Vector512.FusedMultiplyAdd(x, w1, c0);
            if (R.N > 0) { x = Vector512.Create(s[2]); if (R.N > 2) c2 = Vector512.FusedMultiplyAdd(x, w0, c2); if (R.N > 1) c1 = Vector512.FusedMultiplyAdd(x, w1, c1); c0 = Vector512.FusedMultiplyAdd(x, w2, c0); }
            if (R.N > 1) { x = Vector512.Create(s[3]); if (R.N > 3) c3 = Vector512.FusedMultiplyAdd(x, w0, c3); if (R.N > 2) c2 = Vector512.FusedMultiplyAdd(x, w1, c2); c1 = Vector512.FusedMultiplyAdd(x, w2, c1); }
            if (R.N > 2) { x = Vector512.Create(s[4]); if (R.N > 4) c4 = Vector512.FusedMultiplyAdd(x, w0, c4); if (R.N > 3) c3 = Vector512.FusedMultiplyAdd(x, w1, c3); c2 = Vector512.FusedMultiplyAdd(x, w2, c2); }
            if (R.N > 3) { x = Vector512.Create(s[5]); if (R.N > 5) c5 = Vector512.FusedMultiplyAdd(x, w0, c5); if (R.N > 4) c4 = Vector512.FusedMultiplyAdd(x, w1, c4); c3 = Vector512.FusedMultiplyAdd(x, w2, c3); }
            if (R.N > 4) { x = Vector512.Create(s[6]); if (R.N > 6) c6 = Vector512.FusedMultiplyAdd(x, w0, c6); if (R.N > 5) c5 = Vector512.FusedMultiplyAdd(x, w1, c5); c4 = Vector512.FusedMultiplyAdd(x, w2, c4); }
            if (R.N > 5) { x = Vector512.Create(s[7]); if (R.N > 7) c7 = Vector512.FusedMultiplyAdd(x, w0, c7); if (R.N > 6) c6 = Vector512.FusedMultiplyAdd(x, w1, c6); c5 = Vector512.FusedMultiplyAdd(x, w2, c5); }
            if (R.N > 6) { x = Vector512.Create(s[8]); if (R.N > 8) c8 = Vector512.FusedMultiplyAdd(x, w0, c8); if (R.N > 7) c7 = Vector512.FusedMultiplyAdd(x, w1, c7); c6 = Vector512.FusedMultiplyAdd(x, w2, c6); }
            if (R.N > 7) { x = Vector512.Create(s[9]); if (R.N > 9) c9 = Vector512.FusedMultiplyAdd(x, w0, c9); if (R.N > 8) c8 = Vector512.FusedMultiplyAdd(x, w1, c8); c7 = Vector512.FusedMultiplyAdd(x, w2, c7); }
            if (R.N > 8) { x = Vector512.Create(s[10]); if (R.N > 10) c10 = Vector512.FusedMultiplyAdd(x, w0, c10); if (R.N > 9) c9 = Vector512.FusedMultiplyAdd(x, w1, c9); c8 = Vector512.FusedMultiplyAdd(x, w2, c8); }
            if (R.N > 9) { x = Vector512.Create(s[11]); if (R.N > 11) c11 = Vector512.FusedMultiplyAdd(x, w0, c11); if (R.N > 10) c10 = Vector512.FusedMultiplyAdd(x, w1, c10); c9 = Vector512.FusedMultiplyAdd(x, w2, c9); }
            if (R.N > 10) { x = Vector512.Create(s[12]); if (R.N > 12) c12 = Vector512.FusedMultiplyAdd(x, w0, c12); if (R.N > 11) c11 = Vector512.FusedMultiplyAdd(x, w1, c11); c10 = Vector512.FusedMultiplyAdd(x, w2, c10); }
            if (R.N > 11) { x = Vector512.Create(s[13]); if (R.N > 13) c13 = Vector512.FusedMultiplyAdd(x, w0, c13); if (R.N > 12) c12 = Vector512.FusedMultiplyAdd(x, w1, c12); c11 = Vector512.FusedMultiplyAdd(x, w2, c11); }
            if (R.N > 12) { x = Vector512.Create(s[14]); if (R.N > 14) c14 = Vector512.FusedMultiplyAdd(x, w0, c14); if (R.N > 13) c13 = Vector512.FusedMultiplyAdd(x, w1, c13); c12 = Vector512.FusedMultiplyAdd(x, w2, c12); }
            if (R.N > 13) { x = Vector512.Create(s[15]); if (R.N > 15) c15 = Vector512.FusedMultiplyAdd(x, w0, c15); if (R.N > 14) c14 = Vector512.FusedMultiplyAdd(x, w1, c14); c13 = Vector512.FusedMultiplyAdd(x, w2, c13); }
            if (R.N > 14) { x = Vector512.Create(s[16]); if (R.N > 16) c16 = Vector512.FusedMultiplyAdd(x, w0, c16); if (R.N > 15) c15 = Vector512.FusedMultiplyAdd(x, w1, c15); c14 = Vector512.FusedMultiplyAdd(x, w2, c14); }
            if (R.N > 15) { x = Vector512.Create(s[17]); if (R.N > 17) c17 = Vector512.FusedMultiplyAdd(x, w0, c17); if (R.N > 16) c16 = Vector512.FusedMultiplyAdd(x, w1, c16); c15 = Vector512.FusedMultiplyAdd(x, w2, c15); }
            if (R.N > 16) { x = Vector512.Create(s[18]); if (R.N > 18) c18 = Vector512.FusedMultiplyAdd(x, w0, c18); if (R.N > 17) c17 = Vector512.FusedMultiplyAdd(x, w1, c17); c16 = Vector512.FusedMultiplyAdd(x, w2, c16); }
            if (R.N > 17) { x = Vector512.Create(s[19]); if (R.N > 19) c19 = Vector512.FusedMultiplyAdd(x, w0, c19); if (R.N > 18) c18 = Vector512.FusedMultiplyAdd(x, w1, c18); c17 = Vector512.FusedMultiplyAdd(x, w2, c17); }
            if (R.N > 18) { x = Vector512.Create(s[20]); if (R.N > 20) c20 = Vector512.FusedMultiplyAdd(x, w0, c20); if (R.N > 19) c19 = Vector512.FusedMultiplyAdd(x, w1, c19); c18 = Vector512.FusedMultiplyAdd(x, w2, c18); }
            if (R.N > 19) { x = Vector512.Create(s[21]); if (R.N > 21) c21 = Vector512.FusedMultiplyAdd(x, w0, c21); if (R.N > 20) c20 = Vector512.FusedMultiplyAdd(x, w1, c20); c19 = Vector512.FusedMultiplyAdd(x, w2, c19); }
            if (R.N > 20) { x = Vector512.Create(s[22]); if (R.N > 22) c22 = Vector512.FusedMultiplyAdd(x, w0, c22); if (R.N > 21) c21 = Vector512.FusedMultiplyAdd(x, w1, c21); c20 = Vector512.FusedMultiplyAdd(x, w2, c20); }
            if (R.N > 21) { x = Vector512.Create(s[23]); if (R.N > 23) c23 = Vector512.FusedMultiplyAdd(x, w0, c23); if (R.N > 22) c22 = Vector512.FusedMultiplyAdd(x, w1, c22); c21 = Vector512.FusedMultiplyAdd(x, w2, c21); }
            if (R.N > 22) { x = Vector512.Create(s[24]); if (R.N > 23) c23 = Vector512.FusedMultiplyAdd(x, w1, c23); c22 = Vector512.FusedMultiplyAdd(x, w2, c22); }
            if (R.N > 23) { x = Vector512.Create(s[25]); c23 = Vector512.FusedMultiplyAdd(x, w2, c23); }
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
    }

    /// <summary>Tile16Taps3 by position count (index 1..24).</summary>
    public static readonly delegate*<int, float*, int*, float*, float*, void>[] By16 =
    [
        null,
        &Tile16Taps3<GemmKernels.R1>,
        &Tile16Taps3<GemmKernels.R2>,
        &Tile16Taps3<GemmKernels.R3>,
        &Tile16Taps3<GemmKernels.R4>,
        &Tile16Taps3<GemmKernels.R5>,
        &Tile16Taps3<GemmKernels.R6>,
        &Tile16Taps3<GemmKernels.R7>,
        &Tile16Taps3<GemmKernels.R8>,
        &Tile16Taps3<GemmKernels.R9>,
        &Tile16Taps3<GemmKernels.R10>,
        &Tile16Taps3<GemmKernels.R11>,
        &Tile16Taps3<GemmKernels.R12>,
        &Tile16Taps3<GemmKernels.R13>,
        &Tile16Taps3<GemmKernels.R14>,
        &Tile16Taps3<GemmKernels.R15>,
        &Tile16Taps3<GemmKernels.R16>,
        &Tile16Taps3<GemmKernels.R17>,
        &Tile16Taps3<GemmKernels.R18>,
        &Tile16Taps3<GemmKernels.R19>,
        &Tile16Taps3<GemmKernels.R20>,
        &Tile16Taps3<GemmKernels.R21>,
        &Tile16Taps3<GemmKernels.R22>,
        &Tile16Taps3<GemmKernels.R23>,
        &Tile16Taps3<GemmKernels.R24>
    ];
}
