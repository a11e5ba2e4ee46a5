using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// A stride-2 3x3 convolution with padding 1 (a ResNet's downsampling convolution) of one image through the
/// direct tiles, by polyphase decomposition. The zero-padded input is split into its four (row parity, column
/// parity) phases of (oh+1) x (ow+1); tap (ky, kx) of output (oy, ox) is then element (oy + ky/2, ox + kx/2)
/// of phase (ky%2, kx%2), so an output row's positions read consecutive floats, as the tiles need, and the
/// weight gradient is the shifted product of the stride-1 case (<see cref="Gemm.AccumulateShifted"/>).
/// </summary>
/// <remarks>
/// im2col ran these layers at under half the GFLOP/s of the stride-1 layers beside them: its column matrix
/// is written and read once more than the input, and a 14- or 7-wide output wastes GEMM panel columns.
/// </remarks>
internal static unsafe class StridedConv
{
    /// <summary>
    /// True for the shape this handles (kernel 3, stride 2, padding 1) where the GEMM on row pointers runs
    /// (<see cref="Gemm.RowsByPanelSupported"/>): the direct tiles (Vector512) or, on AVX2 parts,
    /// <see cref="ForwardRows"/>.
    /// </summary>
    public static bool Applies(int kernel, int stride, int padding) => Gemm.RowsByPanelSupported && kernel == 3 && stride == 2 && padding == 1;

    internal static int PhasePitch(int ow) => ow + 1;

    // One phase plane, plus one float that the weight gradient's last shifted row reads (times a zero gradient).
    internal static int PhaseStride(int oh, int ow) => (oh + 1) * PhasePitch(ow) + 1;

    /// <summary>Floats of phase scratch for <paramref name="channels"/> input planes giving oh x ow outputs.</summary>
    public static int PhasedLength(int channels, int oh, int ow) => channels * 4 * PhaseStride(oh, ow);

    /// <summary>Floats of output-gradient scratch for the weight gradient (rows at the phase pitch).</summary>
    public static int GradLength(int outChannels, int oh, int ow) => outChannels * oh * PhasePitch(ow);

    /// <summary>
    /// y = the convolution of one image (bias, residual and ReLU as in <see cref="PaddedConv.Forward"/>), with
    /// <paramref name="packed"/> the [out, in*9] weight through <see cref="PaddedConv.PackWeights"/> (or, with
    /// <paramref name="columns"/>, the [out, columns.Length] weight of the kept im2col rows, as SPP leaves it).
    /// <paramref name="phased"/> (<see cref="PhasedLength"/>) must be zero before the first image of a run: the
    /// split writes only the positions that hold input, so the padding stays zero from image to image.
    /// </summary>
    public static void Forward(float* x, int channels, int h, int w, float* packed, int outChannels, float* y, float* phased,
        float* bias = null, bool relu = false, float* residual = null, int[]? columns = null)
    {
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1, depth = channels * 9;
        Split(x, channels, h, w, oh, ow, phased);
        int* offsets = stackalloc int[depth];
        Offsets(channels, oh, ow, offsets);
        if (columns is not null)
        {
            // A kernel-column pruned weight ([out, columns.Length]): only the kept taps are depth steps.
            int* kept = stackalloc int[columns.Length];
            PaddedConv.SelectColumns(offsets, columns, kept);
            offsets = kept;
            depth = columns.Length;
        }
        PaddedConv.ConvolveDirect(phased, offsets, depth, PhasePitch(ow), oh, ow, packed, outChannels, y, bias, relu, residual);
    }

    /// <summary>
    /// <see cref="Forward"/> through the GEMM on row pointers instead of the direct tiles (the path of AVX2 parts): each
    /// (channel, tap) row is a pointer into the phases, as in <see cref="PaddedConv"/>'s stride-1 case, with the output
    /// at the phase pitch (one column past each row dropped). <paramref name="packedWeight"/> is the [out, in*9] weight
    /// through <see cref="Gemm.PackRows"/>; <paramref name="rows"/> is scratch for in*9 pointers.
    /// </summary>
    public static void ForwardRows(float* x, int channels, int h, int w, float* packedWeight, int outChannels, float* y, float* phased, float** rows,
        float* bias = null, bool relu = false, float* residual = null)
    {
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1, depth = channels * 9, pitch = PhasePitch(ow);
        Split(x, channels, h, w, oh, ow, phased);
        int* offsets = stackalloc int[depth];
        Offsets(channels, oh, ow, offsets);
        for (int p = 0; p < depth; p++) rows[p] = phased + offsets[p];
        var sink = new PaddedConv.PitchedOutput(y, outChannels, (long)oh * ow, ow, pitch, bias, relu, residual);
        Gemm.MultiplyPackedRowsByPanel(outChannels, oh * pitch, depth, packedWeight, rows, ref sink);
    }

    /// <summary>
    /// Adds one image's weight gradient, transposed and tap-major as <see cref="PaddedConv.Backward"/> writes
    /// it: <c>dWT[(t*channels + c)*outChannels + o]</c>. Splits x into <paramref name="phased"/> (kept zero
    /// between images, as in <see cref="Forward"/>) and copies the output gradient to the phase pitch in
    /// <paramref name="paddedGrad"/> (<see cref="GradLength"/>; its last column must be zero and is never written).
    /// </summary>
    public static void WeightGradient(float* x, float* gradOut, int channels, int outChannels, int h, int w, float* dWT, float* phased, float* paddedGrad)
    {
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1, pitch = PhasePitch(ow);
        Split(x, channels, h, w, oh, ow, phased);
        for (int o = 0; o < outChannels; o++)
            PaddedConv.CopyRows(gradOut + (long)o * oh * ow, ow, paddedGrad + (long)o * oh * pitch, pitch, oh, ow, 0f, false);
        Span<int> offsets = stackalloc int[9];
        for (int t = 0; t < 9; t++) offsets[t] = TapOffset(t / 3, t % 3, oh, ow);
        Gemm.AccumulateShifted(channels, outChannels, oh * pitch, phased, 4 * PhaseStride(oh, ow), offsets, paddedGrad, oh * pitch, dWT, outChannels);
    }

    private static int TapOffset(int ky, int kx, int oh, int ow) =>
        ((ky & 1) * 2 + (kx & 1)) * PhaseStride(oh, ow) + (ky >> 1) * PhasePitch(ow) + (kx >> 1);

    // Tap (c, ky, kx) of output position 0 in the phased input: offsets[c*9 + ky*3 + kx].
    internal static void Offsets(int channels, int oh, int ow, int* offsets)
    {
        int perChannel = 4 * PhaseStride(oh, ow);
        for (int c = 0; c < channels; c++)
            for (int t = 0; t < 9; t++) offsets[c * 9 + t] = c * perChannel + TapOffset(t / 3, t % 3, oh, ow);
    }

    // Padded row y+1 holds input row y: its even columns t = 2m land in phase (a, 1) at column m, its odd ones
    // t = 2m + 1 in phase (a, 0) at column m + 1 (padded column t + 1), with a = (y + 1) % 2, phase row (y + 1) / 2.
    internal static void Split(float* x, int channels, int h, int w, int oh, int ow, float* phased)
    {
        int pitch = PhasePitch(ow), ps = PhaseStride(oh, ow);
        for (int c = 0; c < channels; c++)
        {
            float* planes = phased + (long)c * 4 * ps;
            SplitPlane(x + (long)c * h * w, h, w, planes + ps, planes + 1, 2 * ps, pitch, 1);
        }
    }

    /// <summary>
    /// The even and odd columns of the h rows of one plane (row width w): with r = y + <paramref name="firstRow"/>,
    /// row y's even columns go to evens + (r % 2) * parityStep + (r / 2) * rowStep, its odd ones to the same offset
    /// from odds. With <paramref name="lead"/> 1 each row counts from one column before its first (a padding column,
    /// zero): column t of the row is then column t + 1. Rows up to 32 wide, lead included (every stride-2 layer of
    /// the zoo's small-image models), take one pass with the masks made once and only their own floats written:
    /// per-row calls of <see cref="Deinterleave"/>, which makes its masks each time, were half of a 28x28 stride-2
    /// layer with a third of its kernel columns, and the depthwise split's per-row block loop through a zeroed edge
    /// buffer made MobileNetV2's stride-2 depthwise layers several times slower than its stride-1 ones.
    /// </summary>
    internal static void SplitPlane(float* src, int h, int w, float* evens, float* odds, long parityStep, long rowStep, int firstRow, int lead = 0)
    {
        // With the Vector512 family (Gemm.ForcedPath included, so tests reach the other on any AVX-512 part).
        if (!Gemm.RowsSupported)
        {
            SplitPlane256(src, h, w, evens, odds, parityStep, rowStep, firstRow, lead);
            return;
        }
        int n = w + lead;
        if (n > 32)
        {
            if (lead != 0) throw new ArgumentOutOfRangeException(nameof(lead), "a leading padding column needs rows of at most 31 floats");
            for (int y = 0; y < h; y++)
            {
                int r = y + firstRow;
                long at = (r & 1) * parityStep + (r >> 1) * rowStep;
                Deinterleave(src + (long)y * w, w, evens + at, odds + at);
            }
            return;
        }
        var zero = Vector512<float>.Zero;
        // Lane 0 is off for a lead: that column is padding, and a masked-off lane neither reads nor faults.
        var low = Simd.FirstLanes(Math.Min(n, 16)) & ~Simd.FirstLanes(lead);
        var high = Simd.FirstLanes(Math.Max(n - 16, 0));
        var evenLanes = Simd.FirstLanes((n + 1) / 2);
        var oddLanes = Simd.FirstLanes(n / 2);
        src -= lead;
        for (int y = 0; y < h; y++, src += w)
        {
            int r = y + firstRow;
            long at = (r & 1) * parityStep + (r >> 1) * rowStep;
            var a = Avx512F.MaskLoad(src, low, zero);
            var b = Avx512F.MaskLoad(src + 16, high, zero);
            Avx512F.MaskStore(evens + at, evenLanes, Avx512F.PermuteVar16x32x2(a, Simd.EvenLanes, b));
            Avx512F.MaskStore(odds + at, oddLanes, Avx512F.PermuteVar16x32x2(a, Simd.OddLanes, b));
        }
    }

    // SplitPlane on AVX2 parts: 16 floats of a row (lead included) a step. Only a row's first step (whose lane 0 is the
    // padding column with a lead: masked off, neither read nor faulted) and its last, partial one need masks; they are
    // made once per plane, as SplitPlane's are.
    private static void SplitPlane256(float* src, int h, int w, float* evens, float* odds, long parityStep, long rowStep, int firstRow, int lead)
    {
        int n = w + lead, steps = (n + 15) / 16, lastLeft = n - (steps - 1) * 16;
        var lastLow = Simd.FirstLanes256(lastLeft);
        var lastHigh = Simd.FirstLanes256(lastLeft - 8);
        var notLead = ~Simd.FirstLanes256(lead);
        var firstLow = (steps == 1 ? lastLow : Simd.FirstLanes256(8)) & notLead;
        var firstHigh = steps == 1 ? lastHigh : Simd.FirstLanes256(8);
        for (int y = 0; y < h; y++)
        {
            int r = y + firstRow;
            long at = (r & 1) * parityStep + (r >> 1) * rowStep;
            float* row = src + (long)y * w - lead;
            for (int t = 0; t < n; t += 16)
            {
                int left = n - t;
                Vector256<float> a, b;
                if (t == 0) { a = Avx.MaskLoad(row, firstLow); b = Avx.MaskLoad(row + 8, firstHigh); }
                else if (left < 16) { a = Avx.MaskLoad(row + t, lastLow); b = Avx.MaskLoad(row + t + 8, lastHigh); }
                else { a = Vector256.Load(row + t); b = Vector256.Load(row + t + 8); }
                Simd.StoreFirst256(evens + at + t / 2, Simd.EvenLanes256(a, b), (left + 1) / 2);
                Simd.StoreFirst256(odds + at + t / 2, Simd.OddLanes256(a, b), left / 2);
            }
        }
    }

    /// <summary>
    /// The even columns of the even rows of one plane (h rows of width w): row 2m's to dst + m*rowStep, (w + 1) / 2
    /// floats, masked so that nothing between the rows is written. Rows up to 32 wide (every shortcut and phase
    /// (0, 0) gather of the zoo's small-image models) take one vector each with the masks made once; made per row,
    /// the masks had cost ResNet-20's shortcuts a third of their time.
    /// </summary>
    internal static void GatherEvenRowsAndColumns(float* src, int h, int w, float* dst, long rowStep)
    {
        var zero = Vector512<float>.Zero;
        if (w <= 32)
        {
            var low = Simd.FirstLanes(w);
            var high = Simd.FirstLanes(Math.Max(w - 16, 0));
            var evenLanes = Simd.FirstLanes((w + 1) / 2);
            for (int y = 0; y < h; y += 2, src += 2 * w, dst += rowStep)
            {
                var a = Avx512F.MaskLoad(src, low, zero);
                var b = Avx512F.MaskLoad(src + 16, high, zero);
                Avx512F.MaskStore(dst, evenLanes, Avx512F.PermuteVar16x32x2(a, Simd.EvenLanes, b));
            }
            return;
        }
        for (int y = 0; y < h; y += 2, src += 2 * w, dst += rowStep)
            for (int t = 0; t < w; t += 32)
            {
                int n = Math.Min(32, w - t);   // floats of the row from column t on
                var a = n >= 16 ? Vector512.Load(src + t) : Avx512F.MaskLoad(src + t, Simd.FirstLanes(n), zero);
                var b = n == 32 ? Vector512.Load(src + t + 16) : n > 16 ? Avx512F.MaskLoad(src + t + 16, Simd.FirstLanes(n - 16), zero) : zero;
                Avx512F.MaskStore(dst + t / 2, Simd.FirstLanes((n + 1) / 2), Avx512F.PermuteVar16x32x2(a, Simd.EvenLanes, b));
            }
    }

    // evens[m] = src[2m], odds[m] = src[2m + 1] for the n floats of src, 32 at a time (two-source permutes).
    internal static void Deinterleave(float* src, int n, float* evens, float* odds)
    {
        var zero = Vector512<float>.Zero;
        int t = 0;
        for (; t + 32 <= n; t += 32)
        {
            var v0 = Vector512.Load(src + t);
            var v1 = Vector512.Load(src + t + 16);
            Avx512F.PermuteVar16x32x2(v0, Simd.EvenLanes, v1).Store(evens + t / 2);
            Avx512F.PermuteVar16x32x2(v0, Simd.OddLanes, v1).Store(odds + t / 2);
        }
        int rest = n - t;
        if (rest == 0) return;
        var u0 = Avx512F.MaskLoad(src + t, Simd.FirstLanes(rest), zero);
        var u1 = rest > 16 ? Avx512F.MaskLoad(src + t + 16, Simd.FirstLanes(rest - 16), zero) : zero;
        Avx512F.MaskStore(evens + t / 2, Simd.FirstLanes((rest + 1) / 2), Avx512F.PermuteVar16x32x2(u0, Simd.EvenLanes, u1));
        Avx512F.MaskStore(odds + t / 2, Simd.FirstLanes(rest / 2), Avx512F.PermuteVar16x32x2(u0, Simd.OddLanes, u1));
    }
}
