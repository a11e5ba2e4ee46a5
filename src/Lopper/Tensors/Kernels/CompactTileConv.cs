using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// A 3x3 convolution with padding 1 whose vector lanes are 16 consecutive output positions of the unpadded plane,
/// with up to 8 filters' accumulators in registers, for filter counts that the direct tiles' lanes (16 or 32 filters)
/// would leave partly idle. Inference only. Dense weights at stride 1 run unrolled blocks over every tap
/// (<see cref="PositionTileConv.Plan"/>); a <see cref="TapPlan"/> runs a list of taps per block: kernel columns (SPP),
/// connection-pruned slices (SNACS), and every convolution at stride 2, on the input's compact parity phases.
/// </summary>
/// <remarks>
/// A padded layout costs a narrow layer three things beyond its multiply-adds: building the padded copy row by row,
/// the pitch columns computed and thrown away (2 in 30 on a 28-wide plane, 2 in 16 on a 14-wide one), and a second
/// pass that copies the pitched results row by row into the output. Here chunks of 32 positions inside rows 2 .. h-3
/// read the input itself, and the rows the others read are copied into scratch with a guard of w + 1 zeros around
/// each plane, which the rows above the first and below the last read; the left and right neighbours of a row's
/// first and last position are the previous row's last and the next row's first value, so those two taps are masked
/// by the position's column. The accumulators hold output positions in order, and the bias, residual and ReLU are
/// applied on the way to the output.
/// </remarks>
[SkipLocalsInit]
internal static unsafe partial class CompactTileConv
{
    /// <summary>True where the kernel runs (AVX-512).</summary>
    public static bool Supported => PositionTileConv.Supported;

    // Positions per chunk: two vectors per filter, so 8 filters take 16 of the 32 vector registers.
    private const int Chunk = 32;
    private const int MaxBlock = 8;

    // Zeros around every plane: a tap one row and one column away from any position of the plane stays inside them.
    private static int Guard(int w) => w + 1;

    private static int PlaneStride(int h, int w) => h * w + Guard(w);

    /// <summary>Scratch floats for an image of <paramref name="channels"/> planes of h x w (guards and read slack included).</summary>
    public static int GuardedLength(int channels, int h, int w) => Guard(w) + channels * PlaneStride(h, w) + Chunk + Guard(w);

    /// <summary>Floats of the column masks <see cref="Forward"/> takes for planes of h x w (see <see cref="Masks"/>).</summary>
    public static int MaskLength(int h, int w) => ColumnMasks.Length(h, w, Chunk);

    private static int Chunks(int positions) => (positions + Chunk - 1) / Chunk;

    /// <summary>The <see cref="Masks"/> of planes of h x w, made once per geometry and shared (read-only).</summary>
    public static float[] MasksFor(int h, int w) => ColumnMasks.For(h, w, Chunk);

    /// <summary>
    /// Per chunk of 32 positions, 32 floats whose bits are all set where a position's left neighbour is in its row,
    /// then 32 for its right neighbour (<see cref="ColumnMasks"/>).
    /// </summary>
    public static void Masks(int h, int w, float* masks) => ColumnMasks.Write(h, w, Chunk, masks);

    /// <summary>
    /// Zeros a scratch of <see cref="GuardedLength"/> floats: the guards stay zero while the rows of every image of
    /// the same geometry are copied in by <see cref="Forward"/>.
    /// </summary>
    public static void ClearGuards(float* guarded, int channels, int h, int w) => new Span<float>(guarded, GuardedLength(channels, h, w)).Clear();

    /// <summary>
    /// One image: y[o] (h x w) = the convolution plus the bias, a residual (laid out as y) and a ReLU.
    /// <paramref name="guarded"/> is scratch cleared by <see cref="ClearGuards"/> for this geometry;
    /// <paramref name="masks"/> holds <see cref="Masks"/> for it.
    /// </summary>
    public static void Forward(float* x, int h, int w, PositionTileConv.Plan plan, float* y, float* guarded, float* masks, float* bias = null, bool relu = false, float* residual = null)
    {
        if (!Supported) throw new PlatformNotSupportedException("CompactTileConv needs AVX-512");
        if (!plan.Wide) throw new InvalidOperationException("CompactTileConv: the plan's blocks were made for the Vector256 family");
        int plane = h * w, stride = PlaneStride(h, w), inputs = plan.InChannels;
        float* planes = guarded + Guard(w);
        CopyEdgeRows(x, inputs, h, w, planes, null, pairs: false);
        var starts = plan.BlockStarts;
        int depth = plan.Depth;
        float* output = stackalloc float[MaxBlock * Chunk + 16];
        output = (float*)(((nint)output + 63) & ~(nint)63);
        var pass = new ChunkPass(x, planes, inputs, stride, null, null, h, w, masks, y, bias, relu, residual);
        fixed (float* weights = plan.Weights)
            for (int b = 0; b + 1 < starts.Length; b++)
            {
                int o0 = starts[b];
                Dispatch<Unstacked>(starts[b + 1] - o0, in pass, weights + (long)depth * o0, output, o0);
            }
    }

    // What every block of one image shares: the input itself and its guarded copy (or, at stride 2, its phases
    // only), with each tap's shift in both for a tap list; the column masks; the output, bias, residual and ReLU.
    // Passed by reference: a block kernel runs once per block over every chunk of the plane, so the per-call cost is
    // paid per block, not per chunk.
    private readonly struct ChunkPass(float* direct, float* planes, int inputs, int guardedStride, nint* directOffsets, nint* guardedOffsets,
        int h, int w, float* masks, float* y, float* bias, bool relu, float* residual, int imageRows = 0, long outImage = 0)
    {
        public readonly float* Direct = direct;
        public readonly float* Planes = planes;
        public readonly int Inputs = inputs, GuardedStride = guardedStride;
        public readonly nint* DirectOffsets = directOffsets;
        public readonly nint* GuardedOffsets = guardedOffsets;
        public readonly int H = h, W = w, Plane = h * w;
        public readonly float* Bias = bias;
        private readonly float* _masks = masks;
        private readonly float* _y = y;
        private readonly bool _relu = relu;
        private readonly float* _residual = residual;

        // Whether the chunk at j0 (with pairs, the two chunks from j0) reads the input itself rather than the copy.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Inside(int j0, bool pairs) => Direct != null && ReadsInput(j0, Plane, H, W, pairs);

        // A tap list's input for the chunk at j0 (with pairs, the two chunks from j0) and its taps' shifts there.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float* Input(int j0, bool pairs, out nint* offsets)
        {
            bool inside = Inside(j0, pairs);
            offsets = inside ? DirectOffsets : GuardedOffsets;
            return inside ? Direct + j0 : Planes + j0;
        }

        // The chunk's column masks (Masks: left then right, 32 each).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float* MasksAt(int j0) => _masks + 2 * (j0 / Chunk) * Chunk;

        // Where the chunk's results go in a stacked pass (see ForwardStacked): the lanes of the image the chunk starts
        // in and of the next one, each image's output imageRows x W planes starting outImage floats apart.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public StackedEpilogue StackedAt(int j0)
        {
            int imagePlane = Locate(j0, out int image, out int r0), next = imagePlane + W - r0;
            long at0 = image * outImage + r0, at1 = (image + 1) * outImage - next;
            return new StackedEpilogue(_y + at0, _y + at1, _residual == null ? null : _residual + at0, _residual == null ? null : _residual + at1,
                imagePlane, Math.Clamp(imagePlane - r0, 0, Chunk), next, Math.Min(Chunk, Plane - j0), _relu);
        }

        // Stacked pass: the image position j0 falls in and its place r0 there (at or past the image's plane: the
        // separator row); returns the image's plane size.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private int Locate(int j0, out int image, out int r0)
        {
            int imagePlane = imageRows * W;
            image = j0 / (imagePlane + W);
            r0 = j0 - image * (imagePlane + W);
            return imagePlane;
        }

        // Where a chunk's results go when it can be written whole: every chunk but the plane's last, and in a stacked
        // pass a chunk inside one image (at its place in that image's planes); any other chunk of a stacked pass gets
        // Valid 0 and goes through StackedAt.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Epilogue WholeAt(int j0, bool stacked)
        {
            if (!stacked) return At(j0);
            int imagePlane = Locate(j0, out int image, out int r0);
            bool inside = r0 + Chunk <= imagePlane;
            long at = image * outImage + r0;
            return new(_y + at, imagePlane, inside ? Chunk : 0, _relu, _residual == null ? null : _residual + at);
        }

        // Where the chunk's results go.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Epilogue At(int j0) => new(_y + j0, Plane, Math.Min(Chunk, Plane - j0), _relu, _residual == null ? null : _residual + j0);
    }

    // A chunk whose 32 positions lie in rows 2 .. h-3 reads only its own plane (rows 1 .. h-2, and at most one float
    // before or after those rows), so it can read the unpadded input directly: the left and right neighbours across a
    // row end are masked as in the guarded copy, and no row above the first or below the last is touched.
    private static bool Interior(int j0, int h, int w) => j0 >= 2 * w && j0 + Chunk <= (h - 2) * w;

    // Whether the pass starting at j0 (one chunk, or with pairs the chunks at j0 and j0 + 32 together) reads the input
    // directly: every chunk of it Interior.
    private static bool ReadsInput(int j0, int plane, int h, int w, bool pairs) =>
        Interior(j0, h, w) && (!pairs || j0 + Chunk >= plane || Interior(j0 + Chunk, h, w));

    // Copies into the guarded planes only the rows that the passes which do not read the input itself read (each
    // chunk reads one row above and below its own): on a 28x28 plane 8 of 28 rows, on 14x14 8 of 14, on 7x7 all.
    // pairs: passes of two chunks (RunTaps). reads, when given, skips the input channels nothing reads.
    private static void CopyEdgeRows(float* x, int channels, int h, int w, float* planes, TapPlan? reads, bool pairs)
    {
        int plane = h * w, stride = PlaneStride(h, w), step = pairs ? 2 * Chunk : Chunk;
        Span<bool> needed = h <= 1024 ? stackalloc bool[h] : new bool[h];
        needed.Clear();
        for (int j0 = 0; j0 < plane; j0 += step)
        {
            if (ReadsInput(j0, plane, h, w, pairs)) continue;
            int first = Math.Max(j0 / w - 1, 0), last = Math.Min((Math.Min(j0 + step, plane) - 1) / w + 1, h - 1);
            needed[first..(last + 1)].Fill(true);
        }
        for (int r = 0; r < h;)
        {
            if (!needed[r]) { r++; continue; }
            int end = r;
            while (end < h && needed[end]) end++;
            long count = (long)(end - r) * w;
            for (int c = 0; c < channels; c++)
                if (reads is null || reads.ReadsChannel(c))
                    Buffer.MemoryCopy(x + (long)c * plane + (long)r * w, planes + (long)c * stride + (long)r * w, count * sizeof(float), count * sizeof(float));
            r = end;
        }
    }

    // Where one chunk's results go: filter o's values start at Y + o*Plane; Valid of the chunk's 32 lanes are positions.
    private readonly struct Epilogue(float* y, int plane, int valid, bool relu, float* residual)
    {
        public readonly float* Y = y;
        public readonly int Plane = plane;
        public readonly int Valid = valid;
        public readonly bool Relu = relu;
        public readonly float* Residual = residual;

        // A whole chunk of filter o, inlined into the blocks.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void WriteWhole(int o, float* bias, Vector512<float> low, Vector512<float> high)
        {
            long at = (long)o * Plane;
            if (bias != null)
            {
                var b = Vector512.Create(bias[o]);
                low += b;
                high += b;
            }
            if (Residual != null)
            {
                low += Vector512.Load(Residual + at);
                high += Vector512.Load(Residual + at + 16);
            }
            if (Relu)
            {
                low = Vector512.Max(low, Vector512<float>.Zero);
                high = Vector512.Max(high, Vector512<float>.Zero);
            }
            low.Store(Y + at);
            high.Store(Y + at + 16);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Write(int o, float* bias, float* sums)
        {
            long at = (long)o * Plane;
            var low = Vector512.Load(sums);
            var high = Vector512.Load(sums + 16);
            if (Valid == Chunk)
            {
                WriteWhole(o, bias, low, high);
                return;
            }
            if (bias != null)
            {
                var b = Vector512.Create(bias[o]);
                low += b;
                high += b;
            }
            // The plane's last chunk: only its first Valid lanes are positions.
            Part(low, at, Valid);
            if (Valid > 16) Part(high, at + 16, Valid - 16);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Part(Vector512<float> v, long at, int lanes)
        {
            var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(Math.Min(lanes, 16))).AsSingle();
            if (Residual != null) v += Avx512F.MaskLoad(Residual + at, mask, Vector512<float>.Zero);
            if (Relu) v = Vector512.Max(v, Vector512<float>.Zero);
            Avx512F.MaskStore(Y + at, mask, v);
        }
    }

    private static void Dispatch<TS>(int filters, in ChunkPass pass, float* weights, float* output, int o0) where TS : struct, IStacking
    {
        switch (filters)
        {
            case 1: Block<F1, TS>(in pass, weights, output, o0); break;
            case 2: Block<F2, TS>(in pass, weights, output, o0); break;
            case 3: Block<F3, TS>(in pass, weights, output, o0); break;
            case 4: Block<F4, TS>(in pass, weights, output, o0); break;
            case 5: Block<F5, TS>(in pass, weights, output, o0); break;
            case 6: Block<F6, TS>(in pass, weights, output, o0); break;
            case 7: Block<F7, TS>(in pass, weights, output, o0); break;
            case 8: Block<F8, TS>(in pass, weights, output, o0); break;
            default: throw new ArgumentOutOfRangeException(nameof(filters));
        }
    }

    private interface IFilters { static abstract int Filters { get; } }
    private struct F1 : IFilters { public static int Filters => 1; }
    private struct F2 : IFilters { public static int Filters => 2; }
    private struct F3 : IFilters { public static int Filters => 3; }
    private struct F4 : IFilters { public static int Filters => 4; }
    private struct F5 : IFilters { public static int Filters => 5; }
    private struct F6 : IFilters { public static int Filters => 6; }
    private struct F7 : IFilters { public static int Filters => 7; }
    private struct F8 : IFilters { public static int Filters => 8; }

    // One block of T.Filters filters over every chunk of the plane: per input channel its nine taps, the left and right
    // ones masked by column. Interior chunks read the input itself, the others its guarded copy. Weights are
    // [channel][tap][filter].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<T, TS>(in ChunkPass pass, float* weights, float* output, int o0) where T : struct, IFilters where TS : struct, IStacking
    {
        int plane = pass.Plane, w = pass.W, inputs = pass.Inputs;
        float* bias = pass.Bias;
        for (int j0 = 0; j0 < plane; j0 += Chunk)
        {
            bool inside = pass.Inside(j0, pairs: false);
            float* input = inside ? pass.Direct + j0 : pass.Planes + j0;
            int stride = inside ? plane : pass.GuardedStride;
            float* masks = pass.MasksAt(j0);
            var at = pass.WholeAt(j0, TS.Stacked);
            var zero = Vector512<float>.Zero;
            Vector512<float> a00 = zero, a01 = zero, a10 = zero, a11 = zero, a20 = zero, a21 = zero, a30 = zero, a31 = zero, a40 = zero, a41 = zero, a50 = zero, a51 = zero, a60 = zero, a61 = zero, a70 = zero, a71 = zero;
            var left0 = Vector512.Load(masks);
            var left1 = Vector512.Load(masks + 16);
            var right0 = Vector512.Load(masks + Chunk);
            var right1 = Vector512.Load(masks + Chunk + 16);
            float* wr = weights;
            for (int c = 0; c < inputs; c++, input += stride)
                for (int dy = -w; dy <= w; dy += w, wr += 3 * T.Filters)
                {
                    float* p = input + dy;
                    {
                        var v = Vector512.Load(p - 1) & left0;
                        var u = Vector512.Load(p + 15) & left1;
                        { var k = Vector512.Create(wr[0]); a00 = Vector512.FusedMultiplyAdd(v, k, a00); a01 = Vector512.FusedMultiplyAdd(u, k, a01); }
                        if (T.Filters > 1) { var k = Vector512.Create(wr[1]); a10 = Vector512.FusedMultiplyAdd(v, k, a10); a11 = Vector512.FusedMultiplyAdd(u, k, a11); }
                        if (T.Filters > 2) { var k = Vector512.Create(wr[2]); a20 = Vector512.FusedMultiplyAdd(v, k, a20); a21 = Vector512.FusedMultiplyAdd(u, k, a21); }
                        if (T.Filters > 3) { var k = Vector512.Create(wr[3]); a30 = Vector512.FusedMultiplyAdd(v, k, a30); a31 = Vector512.FusedMultiplyAdd(u, k, a31); }
                        if (T.Filters > 4) { var k = Vector512.Create(wr[4]); a40 = Vector512.FusedMultiplyAdd(v, k, a40); a41 = Vector512.FusedMultiplyAdd(u, k, a41); }
                        if (T.Filters > 5) { var k = Vector512.Create(wr[5]); a50 = Vector512.FusedMultiplyAdd(v, k, a50); a51 = Vector512.FusedMultiplyAdd(u, k, a51); }
                        if (T.Filters > 6) { var k = Vector512.Create(wr[6]); a60 = Vector512.FusedMultiplyAdd(v, k, a60); a61 = Vector512.FusedMultiplyAdd(u, k, a61); }
                        if (T.Filters > 7) { var k = Vector512.Create(wr[7]); a70 = Vector512.FusedMultiplyAdd(v, k, a70); a71 = Vector512.FusedMultiplyAdd(u, k, a71); }
                    }
                    {
                        var v = Vector512.Load(p);
                        var u = Vector512.Load(p + 16);
                        { var k = Vector512.Create(wr[T.Filters + 0]); a00 = Vector512.FusedMultiplyAdd(v, k, a00); a01 = Vector512.FusedMultiplyAdd(u, k, a01); }
                        if (T.Filters > 1) { var k = Vector512.Create(wr[T.Filters + 1]); a10 = Vector512.FusedMultiplyAdd(v, k, a10); a11 = Vector512.FusedMultiplyAdd(u, k, a11); }
                        if (T.Filters > 2) { var k = Vector512.Create(wr[T.Filters + 2]); a20 = Vector512.FusedMultiplyAdd(v, k, a20); a21 = Vector512.FusedMultiplyAdd(u, k, a21); }
                        if (T.Filters > 3) { var k = Vector512.Create(wr[T.Filters + 3]); a30 = Vector512.FusedMultiplyAdd(v, k, a30); a31 = Vector512.FusedMultiplyAdd(u, k, a31); }
                        if (T.Filters > 4) { var k = Vector512.Create(wr[T.Filters + 4]); a40 = Vector512.FusedMultiplyAdd(v, k, a40); a41 = Vector512.FusedMultiplyAdd(u, k, a41); }
                        if (T.Filters > 5) { var k = Vector512.Create(wr[T.Filters + 5]); a50 = Vector512.FusedMultiplyAdd(v, k, a50); a51 = Vector512.FusedMultiplyAdd(u, k, a51); }
                        if (T.Filters > 6) { var k = Vector512.Create(wr[T.Filters + 6]); a60 = Vector512.FusedMultiplyAdd(v, k, a60); a61 = Vector512.FusedMultiplyAdd(u, k, a61); }
                        if (T.Filters > 7) { var k = Vector512.Create(wr[T.Filters + 7]); a70 = Vector512.FusedMultiplyAdd(v, k, a70); a71 = Vector512.FusedMultiplyAdd(u, k, a71); }
                    }
                    {
                        var v = Vector512.Load(p + 1) & right0;
                        var u = Vector512.Load(p + 17) & right1;
                        { var k = Vector512.Create(wr[2 * T.Filters + 0]); a00 = Vector512.FusedMultiplyAdd(v, k, a00); a01 = Vector512.FusedMultiplyAdd(u, k, a01); }
                        if (T.Filters > 1) { var k = Vector512.Create(wr[2 * T.Filters + 1]); a10 = Vector512.FusedMultiplyAdd(v, k, a10); a11 = Vector512.FusedMultiplyAdd(u, k, a11); }
                        if (T.Filters > 2) { var k = Vector512.Create(wr[2 * T.Filters + 2]); a20 = Vector512.FusedMultiplyAdd(v, k, a20); a21 = Vector512.FusedMultiplyAdd(u, k, a21); }
                        if (T.Filters > 3) { var k = Vector512.Create(wr[2 * T.Filters + 3]); a30 = Vector512.FusedMultiplyAdd(v, k, a30); a31 = Vector512.FusedMultiplyAdd(u, k, a31); }
                        if (T.Filters > 4) { var k = Vector512.Create(wr[2 * T.Filters + 4]); a40 = Vector512.FusedMultiplyAdd(v, k, a40); a41 = Vector512.FusedMultiplyAdd(u, k, a41); }
                        if (T.Filters > 5) { var k = Vector512.Create(wr[2 * T.Filters + 5]); a50 = Vector512.FusedMultiplyAdd(v, k, a50); a51 = Vector512.FusedMultiplyAdd(u, k, a51); }
                        if (T.Filters > 6) { var k = Vector512.Create(wr[2 * T.Filters + 6]); a60 = Vector512.FusedMultiplyAdd(v, k, a60); a61 = Vector512.FusedMultiplyAdd(u, k, a61); }
                        if (T.Filters > 7) { var k = Vector512.Create(wr[2 * T.Filters + 7]); a70 = Vector512.FusedMultiplyAdd(v, k, a70); a71 = Vector512.FusedMultiplyAdd(u, k, a71); }
                    }
                }
            // A whole chunk goes straight to the output (no call here: accumulators live across a call are spilled on
            // every depth step); the plane's last chunk through the buffer and Epilogue.Write.
            if (at.Valid == Chunk)
            {
                at.WriteWhole(o0 + 0, bias, a00, a01);
                if (T.Filters > 1) at.WriteWhole(o0 + 1, bias, a10, a11);
                if (T.Filters > 2) at.WriteWhole(o0 + 2, bias, a20, a21);
                if (T.Filters > 3) at.WriteWhole(o0 + 3, bias, a30, a31);
                if (T.Filters > 4) at.WriteWhole(o0 + 4, bias, a40, a41);
                if (T.Filters > 5) at.WriteWhole(o0 + 5, bias, a50, a51);
                if (T.Filters > 6) at.WriteWhole(o0 + 6, bias, a60, a61);
                if (T.Filters > 7) at.WriteWhole(o0 + 7, bias, a70, a71);
                continue;
            }
            // The plane's last chunk (stacked: a chunk across a separator row) through the buffer.
            StoreSums<T>(output, a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71);
            if (TS.Stacked) WriteStacked(in pass, j0, null, o0, T.Filters, output);
            else for (int o = 0; o < T.Filters; o++) at.Write(o0 + o, bias, output + o * Chunk);
        }
    }
}
