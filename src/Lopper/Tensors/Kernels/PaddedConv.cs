using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// A stride-1 "same" convolution (odd kernel k, padding (k-1)/2) of one image without im2col. The image is
/// copied once into zero-padded planes of pitch W' = w + p (p = (k-1)/2); then output position oy*W' + ox
/// reads tap (ky, kx) of channel c at plane c + ky*W' + kx + (oy*W' + ox), so each im2col row is just a
/// pointer into the padded planes and <see cref="Gemm.MultiplyRowsByPanel{S}"/> reads them in place. The p zeros
/// between two rows are the right padding of one and the left padding of the next (a tap left of column 0
/// lands in the previous row's gap), so a row costs p extra GEMM columns, not 2p; they are dropped when the
/// result is copied out.
/// </summary>
/// <remarks>
/// The same product gives the input gradient of such a convolution: it is the same-convolution of the output
/// gradient with the kernel transposed (in and out swapped) and flipped (<see cref="FlipTranspose"/>); and the
/// weight gradient multiplies the padded input's shifted planes by the padded output gradient
/// (<see cref="Backward"/>).
/// </remarks>
internal static unsafe class PaddedConv
{
    /// <summary>
    /// True when the shape qualifies: stride 1, odd kernel above 1, padding (k-1)/2, and the GEMM on row pointers runs
    /// (<see cref="Gemm.RowsByPanelSupported"/>: Vector512, or Vector256 with FMA).
    /// </summary>
    public static bool Applies(int kernel, int stride, int padding, int w) =>
        Gemm.RowsByPanelSupported && stride == 1 && kernel > 1 && (kernel & 1) == 1 && 2 * padding == kernel - 1 && w >= 1;

    /// <summary>True where the direct tiles (<see cref="ConvolveDirect"/>) run: they are Vector512 kernels.</summary>
    public static bool DirectSupported => Gemm.RowsSupported;

    /// <summary>
    /// True when an h x w plane with <paramref name="outChannels"/> output channels goes through the direct tiles
    /// (<see cref="ConvolveDirect"/>, weights packed by <see cref="PackWeights"/>) rather than the GEMM on row
    /// pointers: when the direct tiles' lanes (channels rounded up to 16 or 32) cost no more than 1.5 times the
    /// GEMM's columns (pitch columns and partial panels included), the GEMM's epilogue and 12-row tiles being the
    /// slower per multiply-add.
    /// </summary>
    /// <remarks>
    /// The direct tiles vectorise over output channels and cover a row's positions exactly; the GEMM vectorises
    /// over positions (at the padded pitch, in 16-column steps) and has a tile for every row count, so it wastes
    /// nothing on odd channel counts. A pruned ResNet-20 (12, 21 and 44 channels) lost a quarter of its first two
    /// stages' lanes to the direct tiles; a dense one (16, 32, 64) loses none. Measured on three random 50%-MACs
    /// ResNet-20s, 2 threads, 128 images (Zen 5): a factor of 1.5 or 2 ran about 3% faster than 1.15, and every
    /// factor well ahead of sending all planes up to 28 wide through the direct tiles (12%, with the one-vector
    /// tiles of before the 3-tap row tiles).
    /// </remarks>
    public static bool UsesDirect(int h, int w, int kernel, int outChannels)
    {
        if (!DirectSupported) return false;
        // Wider rows are split into pieces; that costs the one-vector tiles their reach, not the 3-tap row tiles.
        if (w > DirectConvKernels.MaxPositions16 && kernel != 3) return false;
        return DirectPays(outChannels, (long)h * w, (h * Pitch(w, kernel) + 15) & ~15);
    }

    /// <summary>Floats of padded input scratch for <paramref name="channels"/> planes of h x w.</summary>
    public static int PaddedLength(int channels, int h, int w, int kernel) => channels * PlaneStride(h, w, kernel);

    internal static int Pitch(int w, int kernel) => w + (kernel - 1) / 2;

    // A padded plane is h + 2p rows of pitch W', plus 2p floats so the last tap's row stays inside.
    internal static int PlaneStride(int h, int w, int kernel) => (h + kernel - 1) * Pitch(w, kernel) + kernel - 1;

    /// <summary>
    /// y[o] (h x w, packed) = sum over c, taps of weight[o, c*k*k + tap] * x[c] shifted, for one image of
    /// <paramref name="channels"/> planes. <paramref name="padded"/> and
    /// <paramref name="rows"/> (channels*k*k pointers) are scratch of the sizes above. A <paramref name="bias"/>
    /// (one per output channel) and a ReLU are applied while the result is copied out, not in extra passes.
    /// With <paramref name="packed"/> (the weight through <see cref="PackWeights"/>, for <see cref="UsesDirect"/>
    /// widths) the direct tiles run instead and <paramref name="rows"/> is unused.
    /// A <paramref name="residual"/> (the layout of y) is added before the ReLU. With <paramref name="columns"/> (a
    /// kernel-column pruned weight, [out, columns.Length], packed) only the kept im2col rows are depth steps.
    /// With <paramref name="weightPacked"/> the weight is already through <see cref="Gemm.PackRows"/> (a caller
    /// running many images packs it once).
    /// </summary>
    public static void Forward(float* x, int channels, int h, int w, int kernel, float* weight, float* packed, int outChannels,
        float* y, float* padded, float** rows, float* bias = null, bool relu = false, float* residual = null, int[]? columns = null,
        bool weightPacked = false)
    {
        Pad(x, channels, h, w, kernel, padded);
        if (packed != null) ConvolveSame(padded, channels, h, w, kernel, packed, outChannels, y, bias, relu, residual, columns: columns);
        else Convolve(padded, channels, h, w, kernel, weight, weightPacked, outChannels, y, rows, bias, relu, residual);
    }

    /// <summary>
    /// The backward pass of one image. The output gradient is padded once into <paramref name="paddedGrad"/>
    /// (<paramref name="outChannels"/> planes) and serves both products: the input gradient
    /// <paramref name="dx"/> = same-conv(dy, <paramref name="flipped"/>) (skipped when null), and, when
    /// <paramref name="dWT"/> is not null, the weight gradient added to it transposed and tap-major,
    /// <c>dWT[(t*channels + c)*outChannels + o]</c> += sum over positions of x[c] shifted by tap t times dy[o]:
    /// the shifted planes of the padded x and the padded dy (whose pitch columns are border zeros) are both read
    /// in place, with no im2col. <paramref name="rows"/> (outChannels*k*k pointers)
    /// is needed for dx, <paramref name="paddedX"/> for dWT. With <paramref name="packedFlipped"/> dx goes through
    /// the direct tiles as in <see cref="Forward"/>; with <paramref name="flippedPacked"/> <paramref name="flipped"/> is
    /// already through <see cref="Gemm.PackRows"/>.
    /// </summary>
    public static void Backward(float* x, float* gradOut, int channels, int outChannels, int h, int w, int kernel,
        float* flipped, float* packedFlipped, float* dx, float* dWT, float* paddedGrad, float* paddedX, float** rows, bool flippedPacked = false)
    {
        Pad(gradOut, outChannels, h, w, kernel, paddedGrad);
        if (dx != null && packedFlipped != null) ConvolveSame(paddedGrad, outChannels, h, w, kernel, packedFlipped, channels, dx, null, false, null);
        else if (dx != null) Convolve(paddedGrad, outChannels, h, w, kernel, flipped, flippedPacked, channels, dx, rows, null, false, null);
        if (dWT == null) return;
        int p = (kernel - 1) / 2, pitch = Pitch(w, kernel), stride = PlaneStride(h, w, kernel), taps = kernel * kernel;
        Pad(x, channels, h, w, kernel, paddedX);
        Span<int> offsets = stackalloc int[taps];
        for (int ky = 0; ky < kernel; ky++)
            for (int kx = 0; kx < kernel; kx++) offsets[ky * kernel + kx] = ky * pitch + kx;
        // Gradient row o at the padded pitch starts at its plane's first interior element.
        if (kernel == 3 && RowTapWeightGradient.Supported)
            RowTapWeightGradient.Accumulate(channels, outChannels, h * pitch, paddedX, stride, pitch, paddedGrad + p * pitch + p, stride, dWT, outChannels);
        else
            Gemm.AccumulateShifted(channels, outChannels, h * pitch, paddedX, stride, offsets, paddedGrad + p * pitch + p, stride, dWT, outChannels);
    }

    // The product on already padded planes: one row pointer per (channel, tap); each finished panel of the
    // product goes straight to y without the pitch columns (bias, residual and ReLU on the way).
    // Only output rows [oy0, oy1) are computed (all by default): the row pointers start oy0 rows in.
    private static void Convolve(float* padded, int channels, int h, int w, int kernel, float* weight, bool weightPacked, int outChannels,
        float* y, float** rows, float* bias, bool relu, float* residual, int oy0 = 0, int oy1 = int.MaxValue)
    {
        int pitch = Pitch(w, kernel), stride = PlaneStride(h, w, kernel), taps = kernel * kernel;
        oy1 = Math.Min(oy1, h);
        if (oy1 <= oy0) return;
        for (int c = 0; c < channels; c++)
        {
            float* plane = padded + (long)c * stride + (long)oy0 * pitch;
            for (int ky = 0; ky < kernel; ky++)
                for (int kx = 0; kx < kernel; kx++)
                    rows[c * taps + ky * kernel + kx] = plane + ky * pitch + kx;
        }
        long skip = (long)oy0 * w;
        var sink = new PitchedOutput(y + skip, outChannels, (long)h * w, w, pitch, bias, relu, residual == null ? null : residual + skip);
        int n = (oy1 - oy0) * pitch;
        if (weightPacked) Gemm.MultiplyPackedRowsByPanel(outChannels, n, channels * taps, weight, rows, ref sink);
        else Gemm.MultiplyRowsByPanel(outChannels, n, channels * taps, weight, channels * taps, rows, ref sink);
    }

    // Writes panels of the product at the padded pitch (column j = oy*pitch + ox) into y's planes of rows w wide: each
    // image row's part of a panel is one masked run, the pitch columns between rows are skipped. (StridedConv's GEMM
    // writes through it too, at the phase pitch.)
    // (plane: floats between two channels of y.)
    internal readonly struct PitchedOutput(float* y, int rows, long plane, int w, int pitch, float* bias, bool relu, float* residual) : Gemm.IPanelSink
    {
        public void Panel(int j0, int cols, float* panel)
        {
            int end = j0 + cols;
            for (int oy = j0 / pitch; oy * pitch < end; oy++)
            {
                int from = Math.Max(j0, oy * pitch), to = Math.Min(end, oy * pitch + w);
                if (to <= from) continue;
                int length = to - from;
                long at = (long)oy * w + (from - oy * pitch);
                if (!Gemm.RowsSupported)
                {
                    float* run = panel + (from - j0);
                    for (int o = 0; o < rows; o++, run += GemmKernels.NR512)
                        Epilogue256(run, y + o * plane + at, residual == null ? null : residual + o * plane + at, length, bias == null ? 0f : bias[o], relu);
                    continue;
                }
                // A run is at most 32 floats: one full vector and a masked one, or one masked one.
                int head = length >= 16 ? 16 : 0;
                var tail = Simd.FirstLanes(length - head);
                float* src = panel + (from - j0);
                for (int o = 0; o < rows; o++, src += GemmKernels.NR512)
                {
                    float* dst = y + o * plane + at, res = residual == null ? null : residual + o * plane + at;
                    var b = Vector512.Create(bias == null ? 0f : bias[o]);
                    if (head > 0)
                    {
                        var v = Vector512.Load(src) + b;
                        if (res != null) v += Vector512.Load(res);
                        if (relu) v = Vector512.Max(v, Vector512<float>.Zero);
                        v.Store(dst);
                    }
                    var t = Avx512F.MaskLoad(src + head, tail, Vector512<float>.Zero) + b;
                    if (res != null) t += Avx512F.MaskLoad(res + head, tail, Vector512<float>.Zero);
                    if (relu) t = Vector512.Max(t, Vector512<float>.Zero);
                    Avx512F.MaskStore(dst + head, tail, t);
                }
            }
        }
    }

    /// <summary>Floats of <see cref="PackWeights"/>' output for <paramref name="outChannels"/> rows of <paramref name="depth"/>.</summary>
    public static int PackedLength(int outChannels, int depth)
    {
        int total = 0;
        for (int o0 = 0, width; o0 < outChannels; o0 += width) total += (width = BlockWidth(outChannels, o0)) * depth;
        return total;
    }

    // Output channels per direct tile: 32 (two vectors), or 16 for a last block of at most 16 channels.
    private static int BlockWidth(int outChannels, int o0) => outChannels - o0 <= 16 ? 16 : 32;

    /// <summary>
    /// Packs a [outChannels, depth] weight for <see cref="ConvolveDirect"/>: blocks of 32 (or a last 16)
    /// output channels, each depth-major (<c>block[p*width + lane]</c>), zero past the last channel.
    /// </summary>
    public static void PackWeights(ReadOnlySpan<float> weight, int outChannels, int depth, Span<float> packed)
    {
        int at = 0;
        for (int o0 = 0; o0 < outChannels; )
        {
            int width = BlockWidth(outChannels, o0), count = Math.Min(width, outChannels - o0);
            for (int p = 0; p < depth; p++, at += width)
                for (int lane = 0; lane < width; lane++)
                    packed[at + lane] = lane < count ? weight[(o0 + lane) * depth + p] : 0f;
            o0 += width;
        }
    }

    // Stride-1 offsets of (channel, tap) into the padded planes, then the tiles. With columns (a kernel-column
    // pruned weight, [out, columns.Length]) only those taps are depth steps, one tap each.
    private static void ConvolveSame(float* padded, int channels, int h, int w, int kernel, float* packed, int outChannels,
        float* y, float* bias, bool relu, float* residual, int oy0 = 0, int oy1 = int.MaxValue, int[]? columns = null)
    {
        int pitch = Pitch(w, kernel), stride = PlaneStride(h, w, kernel), taps = kernel * kernel, depth = channels * taps;
        int* offsets = stackalloc int[depth];
        int* rowOffsets = stackalloc int[kernel == 3 ? channels * 3 : 0];
        TapOffsets(channels, kernel, stride, pitch, offsets, rowOffsets);
        if (columns is not null)
        {
            int* kept = stackalloc int[columns.Length];
            SelectColumns(offsets, columns, kept);
            ConvolveDirect(padded, kept, columns.Length, pitch, h, w, packed, outChannels, y, bias, relu, residual, null, oy0, oy1);
            return;
        }
        ConvolveDirect(padded, offsets, depth, pitch, h, w, packed, outChannels, y, bias, relu, residual, kernel == 3 ? rowOffsets : null, oy0, oy1);
    }

    /// <summary>The depth offsets of the kept im2col rows <paramref name="columns"/> (indices into <paramref name="offsets"/>).</summary>
    internal static void SelectColumns(int* offsets, int[] columns, int* kept)
    {
        for (int i = 0; i < columns.Length; i++) kept[i] = offsets[columns[i]];
    }

    /// <summary>
    /// The direct tiles' depth offsets: tap (c, ky, kx) at <c>c*planeStride + ky*rowPitch + kx</c>; for a 3-wide kernel
    /// also, when <paramref name="rowOffsets"/> is given, each (channel, kernel row)'s first tap (RowTapKernels' depth steps).
    /// </summary>
    internal static void TapOffsets(int channels, int kernel, int planeStride, int rowPitch, int* offsets, int* rowOffsets)
    {
        int taps = kernel * kernel;
        for (int c = 0; c < channels; c++)
            for (int ky = 0; ky < kernel; ky++)
                for (int kx = 0; kx < kernel; kx++)
                    offsets[c * taps + ky * kernel + kx] = c * planeStride + ky * rowPitch + kx;
        for (int q = 0; kernel == 3 && rowOffsets != null && q < channels * 3; q++) rowOffsets[q] = offsets[q * 3];
    }

    /// <summary>
    /// Whether the direct tiles' lanes for <paramref name="outChannels"/> channels over <paramref name="positions"/>
    /// outputs cost no more than 1.5 times a GEMM of <paramref name="gemmColumns"/> columns (the GEMM's epilogue and
    /// 12-row tiles being the slower per multiply-add).
    /// </summary>
    internal static bool DirectPays(int outChannels, long positions, long gemmColumns) =>
        (long)PackedLength(outChannels, 1) * positions * 100 <= outChannels * gemmColumns * 150;

    /// <summary>
    /// <see cref="Forward"/> through the direct tiles (<paramref name="packed"/> given) for one image with its
    /// output rows split over <paramref name="parts"/> threads: for a batch smaller than the thread count (an
    /// application serving one image at a time), which would otherwise run on one core.
    /// </summary>
    public static void ForwardSplitRows(float* x, int channels, int h, int w, int kernel, float* packed, int outChannels,
        float* y, float* padded, int parts, float* bias = null, bool relu = false, float* residual = null)
    {
        Pad(x, channels, h, w, kernel, padded);
        nint pp = (nint)padded, yp = (nint)y, kp = (nint)packed, bp = (nint)bias, rp = (nint)residual;
        Parallelism.For(parts, part =>
            ConvolveSame((float*)pp, channels, h, w, kernel, (float*)kp, outChannels, (float*)yp, (float*)bp, relu, (float*)rp,
                h * part / parts, h * (part + 1) / parts));
    }

    /// <summary>
    /// <see cref="Forward"/> through the GEMM on padded rows (<paramref name="packedWeight"/>: the weight through
    /// <see cref="Gemm.PackRows"/>) for one image with its output rows split over <paramref name="parts"/> threads, as
    /// <see cref="ForwardSplitRows"/> does for the direct tiles.
    /// </summary>
    public static void ForwardSplitRowsGemm(float* x, int channels, int h, int w, int kernel, float* packedWeight, int outChannels,
        float* y, float* padded, int parts, float* bias = null, bool relu = false, float* residual = null)
    {
        Pad(x, channels, h, w, kernel, padded);
        int depth = channels * kernel * kernel;
        nint pp = (nint)padded, yp = (nint)y, kp = (nint)packedWeight, bp = (nint)bias, rp = (nint)residual;
        Parallelism.For(parts, part =>
        {
            float** rows = stackalloc float*[depth];
            Convolve((float*)pp, channels, h, w, kernel, (float*)kp, true, outChannels, (float*)yp, rows, (float*)bp, relu, (float*)rp,
                h * part / parts, h * (part + 1) / parts);
        });
    }

    /// <summary>
    /// The product through <see cref="DirectConvKernels"/>: each tile is a run of one output row's positions
    /// times a block of output channels, so only valid positions are computed. Output (oy, ox) at depth p reads
    /// <c>input[oy*rowPitch + ox + offsets[p]]</c>; y is channel-major oh x ow planes (bias, residual, ReLU as in
    /// <see cref="Forward"/>); <paramref name="packed"/> is the weight through <see cref="PackWeights"/>.
    /// </summary>
    /// <remarks>
    /// With <paramref name="rowOffsets"/> (a 3-wide kernel: the offset of each (channel, kernel row)'s first tap,
    /// the taps of a row being adjacent) 16-channel blocks go through <see cref="RowTapKernels"/>, which share
    /// each input broadcast across a row's three taps. Only output rows [<paramref name="oy0"/>, <paramref name="oy1"/>)
    /// are computed (all by default).
    /// </remarks>
    internal static void ConvolveDirect(float* input, int* offsets, int depth, int rowPitch, int oh, int ow, float* packed, int outChannels,
        float* y, float* bias, bool relu, float* residual, int* rowOffsets = null, int oy0 = 0, int oy1 = int.MaxValue)
    {
        oy1 = Math.Min(oy1, oh);
        // 64-byte aligned: the tile's vectors are stored and at once loaded back, and a load split over two cache
        // lines cannot be forwarded from the store.
        float* tileSpace = stackalloc float[DirectConvKernels.TileFloats + 16];
        float* tile = (float*)(((nint)tileSpace + 63) & ~(nint)63);
        long plane = (long)oh * ow;
        float* wb = packed;
        for (int o0 = 0; o0 < outChannels; )
        {
            int width = BlockWidth(outChannels, o0), count = Math.Min(width, outChannels - o0);
            bool rowTaps = width == 16 && rowOffsets != null;
            var kernels = rowTaps ? RowTapKernels.By16 : width == 16 ? DirectConvKernels.By16 : DirectConvKernels.By32;
            int most = rowTaps ? RowTapKernels.MaxPositions : width == 16 ? DirectConvKernels.MaxPositions16 : DirectConvKernels.MaxPositions32;
            int* steps = rowTaps ? rowOffsets : offsets;
            int stepCount = rowTaps ? depth / 3 : depth;
            int pieces = (ow + most - 1) / most;
            for (int oy = oy0; oy < oy1; oy++)
                for (int q = 0; q < pieces; q++)
                {
                    int x0 = ow * q / pieces, r = ow * (q + 1) / pieces - x0;
                    kernels[r](stepCount, input + oy * rowPitch + x0, steps, wb, tile);
                    long at = o0 * plane + oy * ow + x0;
                    DirectConvKernels.StoreTransposed(tile, width, r, y + at, plane, count, bias == null ? null : bias + o0, relu,
                        residual == null ? null : residual + at);
                }
            wb += (long)width * depth;
            o0 += width;
        }
    }

    // h rows of w floats from pitch srcPitch to pitch dstPitch, plus bias (skipped when 0), a residual (laid out
    // as dst) and ReLU, in one vector pass: both the pad (into the pitch) and the copy-out (out of it). Per-row
    // library calls cost more than the work on 14- and 28-wide rows (they made a fused-ReLU layer ~25% slower).
    internal static void CopyRows(float* src, int srcPitch, float* dst, int dstPitch, int h, int w, float bias, bool relu, float* residual = null)
    {
        if (!Gemm.RowsSupported)
        {
            for (int oy = 0; oy < h; oy++, src += srcPitch, dst += dstPitch)
                Epilogue256(src, dst, residual == null ? null : residual + (long)oy * dstPitch, w, bias, relu);
            return;
        }
        var b = Vector512.Create(bias);
        bool shift = bias != 0f;
        var zero = Vector512<float>.Zero;
        int full = w & ~15, rest = w - full;
        var tail = Simd.FirstLanes(rest);
        for (int oy = 0; oy < h; oy++, src += srcPitch, dst += dstPitch)
        {
            int ox = 0;
            for (; ox < full; ox += 16)
            {
                var v = Vector512.Load(src + ox);
                if (shift) v += b;
                if (residual != null) v += Vector512.Load(residual + (long)oy * dstPitch + ox);
                if (relu) v = Vector512.Max(v, zero);
                v.Store(dst + ox);
            }
            if (rest == 0) continue;
            var t = Avx512F.MaskLoad(src + ox, tail, zero);
            if (shift) t += b;
            if (residual != null) t += Avx512F.MaskLoad(residual + (long)oy * dstPitch + ox, tail, zero);
            if (relu) t = Vector512.Max(t, zero);
            Avx512F.MaskStore(dst + ox, tail, t);
        }
    }

    // dst = src + bias (+ residual), ReLU'd, over a run of `length` floats in Vector256 steps: the copy-out and padding
    // of the Vector256 kernel family (AVX2 parts), where CopyRows and PitchedOutput use Vector512. A run of 8 or more
    // ends with a step placed at its end, overlapping the one before it, instead of a masked tail: the runs here are
    // short (a 28-wide row, or its part in a 32-column panel), and building a mask, a masked load and a split store
    // per run had made the copy-out and the padding together cost two thirds as much as the GEMM of an 8-channel
    // layer. That last step is computed before any store, so dst may alias src or residual. Shorter runs are read
    // with masked loads and written with plain stores (Simd.StoreFirst256).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Epilogue256(float* src, float* dst, float* residual, int length, float bias, bool relu)
    {
        var b = Vector256.Create(bias);
        bool shift = bias != 0f;   // so a plain copy (the padding) keeps -0
        if (length >= 8)
        {
            int lastAt = length - 8;
            var last = Step256(src + lastAt, residual == null ? null : residual + lastAt, b, shift, relu);
            for (int i = 0; i < lastAt; i += 8) Step256(src + i, residual == null ? null : residual + i, b, shift, relu).Store(dst + i);
            last.Store(dst + lastAt);
            return;
        }
        if (length <= 0) return;
        var t = Avx.MaskLoad(src, Simd.FirstLanes256(length));
        Simd.Finish256(dst, shift ? t + b : t, residual, relu, length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step256(float* src, float* residual, Vector256<float> bias, bool shift, bool relu)
    {
        var v = Vector256.Load(src);
        if (shift) v += bias;
        if (residual != null) v += Vector256.Load(residual);
        return relu ? Vector256.Max(v, Vector256<float>.Zero) : v;
    }

    // Zero-padded planes of pitch W' (see the class remarks): each row copied once, only the padding cleared.
    internal static void Pad(float* x, int channels, int h, int w, int kernel, float* padded)
    {
        int p = (kernel - 1) / 2, pitch = Pitch(w, kernel), stride = PlaneStride(h, w, kernel);
        for (int c = 0; c < channels; c++)
        {
            float* plane = padded + (long)c * stride, first = plane + p * pitch + p;
            new Span<float>(plane, p * pitch + p).Clear();
            CopyRows(x + (long)c * h * w, w, first, pitch, h, w, 0f, false);
            // Each row's gap (the next row's left padding), rows h .. h+p-1 and the tail floats.
            for (int iy = 0; iy < h; iy++)
                for (int j = w; j < pitch; j++) first[(long)iy * pitch + j] = 0f;
            long done = (long)(h + p) * pitch;
            new Span<float>(plane + done, (int)(stride - done)).Clear();
        }
    }

    /// <summary>
    /// Writes the weight of the input-gradient convolution: flipped[c, o*k*k + t] = weight[o, c*k*k + (k*k-1-t)]
    /// for a [out, in*k*k] weight, so that dx = same-conv(dy, flipped).
    /// </summary>
    public static void FlipTranspose(ReadOnlySpan<float> weight, int outChannels, int inChannels, int kernel, Span<float> flipped)
    {
        int taps = kernel * kernel;
        for (int o = 0; o < outChannels; o++)
            for (int c = 0; c < inChannels; c++)
                for (int t = 0; t < taps; t++)
                    flipped[(c * outChannels + o) * taps + t] = weight[(o * inChannels + c) * taps + (taps - 1 - t)];
    }
}
