using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

// Several images' small planes as one tall plane, so that the position lanes a plane's last chunk leaves idle are
// filled by the next image: a 7x7 plane takes two chunks of 32 lanes for 49 positions, four stacked planes six chunks
// for 196.
internal static unsafe partial class CompactTileConv
{
    private interface IStacking { static abstract bool Stacked { get; } }
    private struct Unstacked : IStacking { public static bool Stacked => false; }
    private struct StackedPlanes : IStacking { public static bool Stacked => true; }

    /// <summary>Most images stacked into one plane.</summary>
    public const int MaxStacked = 8;

    /// <summary>
    /// How many images of h x w planes to stack (1: none): the count up to <see cref="MaxStacked"/> with the fewest
    /// chunks per image, counting the zero row between two images, where it saves at least a twentieth of them.
    /// Planes under a chunk's size are not stacked (a chunk would span three images).
    /// </summary>
    public static int StackedImages(int h, int w)
    {
        if ((long)h * w < Chunk) return 1;
        int best = 1;
        double bestChunks = Chunks(h * w);
        for (int g = 2; g <= MaxStacked; g++)
        {
            double perImage = (double)Chunks(StackedRows(g, h) * w) / g;
            if (perImage < bestChunks) (best, bestChunks) = (g, perImage);
        }
        return bestChunks <= 0.95 * Chunks(h * w) ? best : 1;
    }

    // Rows of a plane of `images` stacked h-row planes with one zero row between two.
    private static int StackedRows(int images, int h) => images * (h + 1) - 1;

    /// <summary>Scratch floats for <paramref name="images"/> stacked images of <paramref name="channels"/> h x w planes.</summary>
    public static int StackedLength(int channels, int images, int h, int w) => GuardedLength(channels, StackedRows(images, h), w);

    /// <summary>The column masks of a plane of <paramref name="images"/> stacked h x w planes.</summary>
    public static float[] StackedMasks(int images, int h, int w) => MasksFor(StackedRows(images, h), w);

    /// <summary>
    /// <see cref="Forward"/> for <paramref name="images"/> images at once (image i's input at x + i*inImage, its
    /// output and residual at i*outImage): their planes are copied one under the other, a zero row between two, which
    /// is the bottom padding of one and the top padding of the next, so the same blocks run over the tall plane and
    /// the separator rows' outputs are dropped on the way out. <paramref name="stacked"/> is scratch of
    /// <see cref="StackedLength"/> floats, zero before the first call of a geometry (the copies write only the image
    /// rows); <paramref name="masks"/> are <see cref="StackedMasks"/>.
    /// </summary>
    public static void ForwardStacked(float* x, long inImage, int images, int h, int w, PositionTileConv.Plan plan, float* y, long outImage,
        float* stacked, float* masks, float* bias = null, bool relu = false, float* residual = null)
    {
        if (!Supported) throw new PlatformNotSupportedException("CompactTileConv needs AVX-512");
        int rows = StackedRows(images, h), stride = PlaneStride(rows, w), inputs = plan.InChannels;
        float* planes = stacked + Guard(w);
        CopyStacked(x, inImage, images, inputs, h, w, planes, stride, null);
        var starts = plan.BlockStarts;
        int depth = plan.Depth;
        float* output = stackalloc float[MaxBlock * Chunk + 16];
        output = (float*)(((nint)output + 63) & ~(nint)63);
        var pass = new ChunkPass(null, planes, inputs, stride, null, null, rows, w, masks, y, bias, relu, residual, h, outImage);
        fixed (float* weights = plan.Weights)
            for (int b = 0; b + 1 < starts.Length; b++)
            {
                int o0 = starts[b];
                Dispatch<StackedPlanes>(starts[b + 1] - o0, in pass, weights + (long)depth * o0, output, o0);
            }
    }

    /// <summary>
    /// <see cref="ForwardTaps"/> for <paramref name="images"/> stacked images, as <see cref="ForwardStacked"/> stacks
    /// them (only the input channels the plan reads are copied).
    /// </summary>
    public static void ForwardTapsStacked(float* x, long inImage, int images, int h, int w, TapPlan plan, float* y, long outImage,
        float* stacked, float* masks, float* bias = null, bool relu = false, float* residual = null)
    {
        if (!Supported) throw new PlatformNotSupportedException("CompactTileConv needs AVX-512");
        int rows = StackedRows(images, h), stride = PlaneStride(rows, w);
        float* planes = stacked + Guard(w);
        CopyStacked(x, inImage, images, plan.InChannels, h, w, planes, stride, plan);
        RunTaps<StackedPlanes>(planes, rows, w, plan, plan.Offsets(stride, w), plan.Ends, y, masks, bias, relu, residual, imageRows: h, outImage: outImage);
    }

    // Each image's h x w planes (image i at x + i*inImage) under the previous image's in the stacked planes (channel c
    // at planes + c*stride), one row apart; with `reads`, only the channels it reads.
    private static void CopyStacked(float* x, long inImage, int images, int channels, int h, int w, float* planes, int stride, TapPlan? reads)
    {
        int plane = h * w;
        long bytes = (long)plane * sizeof(float);
        for (int i = 0; i < images; i++)
            for (int c = 0; c < channels; c++)
                if (reads is null || reads.ReadsChannel(c))
                    Buffer.MemoryCopy(x + i * inImage + (long)c * plane, planes + (long)c * stride + (long)i * (plane + w), bytes, bytes);
    }

    /// <summary>Scratch floats for the parity phases of <paramref name="images"/> stacked images with oh x ow outputs at stride 2.</summary>
    public static int PhasedStackedLength(int channels, int images, int oh, int ow) => PhasedLength(channels, StackedRows(images, oh), ow);

    /// <summary>
    /// <see cref="ForwardTapsStride2"/> for <paramref name="images"/> images (x is h x w, y oh x ow per image): each
    /// phase plane holds the images' phases one under the other with a zero row between two, which is what the taps
    /// one row up read at an image's first row. <paramref name="phased"/> (<see cref="PhasedStackedLength"/>) must be
    /// zero before the first call of a geometry; <paramref name="masks"/> are <see cref="StackedMasks"/> of (oh, ow).
    /// </summary>
    public static void ForwardTapsStride2Stacked(float* x, long inImage, int images, int h, int w, TapPlan plan, float* y, long outImage,
        float* phased, float* masks, float* bias = null, bool relu = false, float* residual = null)
    {
        if (!Supported) throw new PlatformNotSupportedException("CompactTileConv needs AVX-512");
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1, rows = StackedRows(images, oh), stride = PlaneStride(rows, ow);
        float* planes = phased + Guard(ow);
        SplitPhases(x, inImage, images, h, w, plan, planes, stride);
        RunTaps<StackedPlanes>(planes, rows, ow, plan, plan.OffsetsStride2(stride, ow), plan.EndsStride2, y, masks, bias, relu, residual,
            imageRows: oh, outImage: outImage);
    }

    // A block's sums of one chunk ([filter][32]) into the buffer that a partial or stacked chunk is written out from.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreSums<T>(float* sums, Vector512<float> a00, Vector512<float> a01, Vector512<float> a10, Vector512<float> a11,
        Vector512<float> a20, Vector512<float> a21, Vector512<float> a30, Vector512<float> a31, Vector512<float> a40, Vector512<float> a41,
        Vector512<float> a50, Vector512<float> a51, Vector512<float> a60, Vector512<float> a61, Vector512<float> a70, Vector512<float> a71) where T : struct, IFilters
    {
        a00.Store(sums); a01.Store(sums + 16);
        if (T.Filters > 1) { a10.Store(sums + 32); a11.Store(sums + 48); }
        if (T.Filters > 2) { a20.Store(sums + 64); a21.Store(sums + 80); }
        if (T.Filters > 3) { a30.Store(sums + 96); a31.Store(sums + 112); }
        if (T.Filters > 4) { a40.Store(sums + 128); a41.Store(sums + 144); }
        if (T.Filters > 5) { a50.Store(sums + 160); a51.Store(sums + 176); }
        if (T.Filters > 6) { a60.Store(sums + 192); a61.Store(sums + 208); }
        if (T.Filters > 7) { a70.Store(sums + 224); a71.Store(sums + 240); }
    }

    // One chunk of a stacked pass that spans a separator row, from the buffer to the images' outputs (a chunk inside one
    // image is written whole, as an unstacked one: ChunkPass.WholeAt), filter f of the block being filters[f] (or
    // o0 + f). Not inlined: written into the blocks, the two images' masks and pointers took registers the
    // accumulators needed, and the JIT spilled the accumulators on every depth step.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void WriteStacked(in ChunkPass pass, int j0, int* filters, int o0, int count, float* sums)
    {
        var at = pass.StackedAt(j0);
        for (int f = 0; f < count; f++, sums += Chunk)
            at.Write(filters == null ? o0 + f : filters[f], pass.Bias, Vector512.Load(sums), Vector512.Load(sums + 16));
    }

    // Where one chunk of a stacked pass goes: lanes [0, first) to the image it starts in (lane l at Y0 + l), lanes
    // [next, end) to the next image (lane l at Y1 + l); the lanes between are the separator row. Filter o's plane is
    // o*FilterStride further on in both.
    private readonly struct StackedEpilogue
    {
        private readonly float* _y0, _y1, _r0, _r1;
        private readonly long _filterStride;
        private readonly Vector512<float> _low0, _high0, _low1, _high1;
        private readonly bool _relu;

        // Inlined into the blocks: a call after their depth loop would spill the accumulators on every depth step.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public StackedEpilogue(float* y0, float* y1, float* r0, float* r1, long filterStride, int first, int next, int end, bool relu)
        {
            _y0 = y0; _y1 = y1; _r0 = r0; _r1 = r1;
            _filterStride = filterStride;
            _low0 = Between(0, first);
            _high0 = Between(16, first);
            _low1 = Between(0, end) & ~Between(0, next);
            _high1 = Between(16, end) & ~Between(16, next);
            _relu = relu;
        }

        // Lanes l of the vector covering positions from `from` with from + l < count.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<float> Between(int from, int count) => Simd.FirstLanes(Math.Clamp(count - from, 0, 16));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Write(int o, float* bias, Vector512<float> low, Vector512<float> high)
        {
            long at = o * _filterStride;
            if (bias != null)
            {
                var b = Vector512.Create(bias[o]);
                low += b;
                high += b;
            }
            if (_r0 != null)
            {
                // The two images' lanes are disjoint: each masked load leaves the other's lanes zero.
                low += Avx512F.MaskLoad(_r0 + at, _low0, Vector512<float>.Zero) + Avx512F.MaskLoad(_r1 + at, _low1, Vector512<float>.Zero);
                high += Avx512F.MaskLoad(_r0 + at + 16, _high0, Vector512<float>.Zero) + Avx512F.MaskLoad(_r1 + at + 16, _high1, Vector512<float>.Zero);
            }
            if (_relu)
            {
                low = Vector512.Max(low, Vector512<float>.Zero);
                high = Vector512.Max(high, Vector512<float>.Zero);
            }
            Avx512F.MaskStore(_y0 + at, _low0, low);
            Avx512F.MaskStore(_y1 + at, _low1, low);
            Avx512F.MaskStore(_y0 + at + 16, _high0, high);
            Avx512F.MaskStore(_y1 + at + 16, _high1, high);
        }
    }
}
