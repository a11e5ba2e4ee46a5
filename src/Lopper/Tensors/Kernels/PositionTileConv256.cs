using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// A frozen 3x3 convolution with padding 1 on the Vector256 family (AVX2 parts): vector lanes are 16 consecutive
/// positions of the unpadded plane (two vectors), registers hold the accumulators of a block of up to 6 filters. Dense
/// weights at stride 1 run every tap (<see cref="PositionTileConv.Plan"/>, made by <see cref="PositionTileConv.Create256"/>);
/// a <see cref="TapPlan"/> made for this family runs a list of taps per block (kernel columns, connection-pruned slices,
/// and every layer at stride 2, over the input's parity phases). Inference only.
/// </summary>
/// <remarks>
/// The narrow layers of a pruned model (7-12 channels on 28x28) had run through the GEMM on padded rows or
/// Winograd, at about 55-60 % of the dense layers' speed per multiply-add: the GEMM's core was quick, but building the
/// padded copy row by row, the pitch columns computed and dropped, and copying the pitched panels out row by row cost
/// two thirds as much again, and Winograd's transforms weigh more the fewer the channels. Here each plane is copied
/// whole (one contiguous copy) between guards of w + 1 zeros, which the taps above the first row and below the last
/// read; the left and right taps of a row's first and last position read the neighbouring row's last and first value
/// and are masked by the position's column; results go straight to the output with bias, residual and ReLU.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class PositionTileConv256
{
    /// <summary>True where the Vector256 family runs (AVX2 with FMA, no Vector512 kernels, forced paths included).</summary>
    public static bool Supported => Gemm.RowsByPanelSupported && !Gemm.RowsSupported;

    /// <summary>
    /// Whether a stride-1 layer of these channel counts runs faster here than through Winograd (or, under 8 channels in
    /// or 7 out, the GEMM on padded rows), by a cost model fitted on Zen 3: the position tiles multiply 9 times per
    /// output and channel pair, Winograd 4 times plus transforms that cost about 36 multiply-adds per input channel and
    /// 66 per output channel; the tiles are taken where they cost under 0.85 of Winograd.
    /// </summary>
    /// <remarks>
    /// One Zen 3 core, 32 images, each layer timed through both, alternating passes (best of 100), the tiles' time over
    /// Winograd's (the model's prediction in brackets): on 28x28 8 -> 7, 8 -> 9, 11 -> 11 and 12 -> 12 0.66-0.86, 15 -> 15
    /// and 18 -> 12 0.98-0.99 (0.83-0.84), 16 -> 16 0.99 (0.87; 1.06 on 32x32), 23 -> 19 1.07 (1.03), 24 -> 24 1.15
    /// (1.09), 32 -> 7 0.93 (0.80); on 14x14 11 -> 32 0.86 (0.81), 32 -> 11 0.98 (0.96), 10 -> 40 0.78 (0.78),
    /// 40 -> 10 1.03 (0.97), 14 -> 23 0.97 (0.87), 32 -> 32 1.26 (1.25); on 7x7 8 -> 64 0.70 (0.70), 64 -> 8 0.95
    /// (0.95), 13 -> 64 0.97 (0.93), 64 -> 13 1.06 (1.15), 8 -> 8 and 12 -> 12 0.53-0.64 (0.54-0.72), 64 -> 64 1.35
    /// (1.61; Winograd has since gained 10 % there). Against the GEMM on padded rows: 1 -> 8, 1 -> 16 and 3 -> 16
    /// 0.79-0.89, 5 -> 32, 6 -> 16 and 7 -> 32 0.87-0.91, 16 -> 6 and 32 -> 5 0.95-0.96.
    /// </remarks>
    public static bool Pays(int inChannels, int outChannels)
    {
        double pairs = (double)inChannels * outChannels;
        return 9 * pairs < 0.85 * (4 * pairs + 36.0 * inChannels + 66.0 * outChannels);
    }

    /// <summary>
    /// Whether a dense stride-2 layer runs faster here, as a tap list over the input's phases
    /// (<see cref="ForwardTapsStride2"/>), than through the GEMM over phase rows: under 256 channel pairs. One Zen 3 core,
    /// 32 images, alternating passes: 8 -> 14, 8 -> 16, 11 -> 20 and 12 -> 23 on 28x28 took 0.93-0.99 of the GEMM's
    /// time, the stems 1 -> 12 (28x28) and 3 -> 16 (32x32) 0.79-0.84; wider layers are unmeasured.
    /// </summary>
    public static bool PaysStride2(int inChannels, int outChannels) => (long)inChannels * outChannels < 256;

    /// <summary>
    /// Whether a tap list (<see cref="TapPlan"/>) whose blocks cost <paramref name="costShare"/> of the dense weight's
    /// multiply-adds runs faster than the dense kernel the layer would otherwise take: below 0.95 where that kernel is
    /// these position tiles (<see cref="Pays"/>), else Winograd, which runs wider layers 1.3x (14x14) to 2x (7x7) the
    /// position tiles' speed per multiply-add: below 0.75 on planes 14 or more wide, below 0.45 on smaller ones. A
    /// connection-pruned ResNet-20 (`lopper latency --layers`, 2 threads, Zen 3): tap lists of 60 % and 48 % on 14x14
    /// took 0.79-0.81 of Winograd's time, of 69 % 1.12; of 43-52 % on 7x7 0.81-1.30.
    /// </summary>
    public static bool TapListPays(double costShare, int inChannels, int outChannels, int w) =>
        costShare < (Pays(inChannels, outChannels) ? 0.95 : w >= 14 ? 0.75 : 0.45);

    /// <summary>Filters per register block: two position vectors per filter, 12 accumulators of the 16 registers.</summary>
    public const int MaxBlock = 6;

    // Positions per chunk: two vectors.
    private const int Chunk = 16;

    private static int Guard(int w) => w + 1;

    private static int PlaneStride(int h, int w) => h * w + Guard(w);

    /// <summary>Scratch floats for an image of <paramref name="channels"/> planes of h x w (guards and read slack included).</summary>
    public static int GuardedLength(int channels, int h, int w) => Guard(w) + channels * PlaneStride(h, w) + Chunk + Guard(w);

    /// <summary>Floats of the column masks of planes of h x w (<see cref="ColumnMasks"/> in chunks of 16 positions).</summary>
    public static int MaskLength(int h, int w) => ColumnMasks.Length(h, w, Chunk);

    /// <summary>The column masks of planes of h x w, made once per geometry and shared (read-only).</summary>
    public static float[] MasksFor(int h, int w) => ColumnMasks.For(h, w, Chunk);

    /// <summary>
    /// One image: y[o] (h x w) = the convolution plus the bias, a residual (laid out as y) and a ReLU.
    /// <paramref name="guarded"/> is <see cref="GuardedLength"/> floats, zero before the first image of a run (only the
    /// planes are written, so the guards stay zero); <paramref name="masks"/> is <see cref="MasksFor"/> of h x w.
    /// </summary>
    public static void Forward(float* x, int h, int w, PositionTileConv.Plan plan, float* y, float* guarded, float* masks, float* bias = null, bool relu = false, float* residual = null)
    {
        CheckFamily(plan.Wide);
        int plane = h * w, stride = PlaneStride(h, w), inputs = plan.InChannels;
        float* planes = CopyPlanes(x, inputs, null, h, w, guarded);
        var starts = plan.BlockStarts;
        int depth = plan.Depth;
        int* outs = stackalloc int[MaxBlock];
        var pass = new Pass(planes, stride, w, plane, masks, y, bias, relu, residual);
        var steps = new Steps(inputs, null, 0, 0, 0);
        fixed (float* weights = plan.Weights)
            for (int b = 0; b + 1 < starts.Length; b++)
            {
                int o0 = starts[b], count = starts[b + 1] - o0;
                for (int r = 0; r < count; r++) outs[r] = o0 + r;
                Dispatch(count, in pass, in steps, weights + (long)depth * o0, outs);
            }
    }

    /// <summary>
    /// <see cref="Forward"/> for a tap list (<see cref="TapPlan"/> made for this family): each block of filters multiplies
    /// only its taps (a kernel-column subset, SPP; or the input channels its filters read, SNACS), and writes its own
    /// filters, which need not be consecutive.
    /// </summary>
    public static void ForwardTaps(float* x, int h, int w, TapPlan plan, float* y, float* guarded, float* masks, float* bias = null, bool relu = false, float* residual = null)
    {
        CheckFamily(plan.Wide);
        int plane = h * w, stride = PlaneStride(h, w);
        float* planes = CopyPlanes(x, plan.InChannels, plan, h, w, guarded);
        RunTaps(new Pass(planes, stride, w, plane, masks, y, bias, relu, residual), plan, plan.Offsets(stride, w), plan.Ends);
    }

    /// <summary>Scratch floats of <see cref="ForwardTapsStride2"/> for <paramref name="channels"/> input planes giving oh x ow outputs.</summary>
    public static int PhasedLength(int channels, int oh, int ow) => Guard(ow) + 4 * channels * PlaneStride(oh, ow) + Chunk + Guard(ow);

    /// <summary>
    /// <see cref="ForwardTaps"/> at stride 2 (padding 1) into oh x ow outputs, on the input's four (row parity, column
    /// parity) phases, each a compact oh x ow plane between guards, so that a tap reads consecutive floats and only the
    /// left column shift needs a mask (<paramref name="masks"/>: <see cref="MasksFor"/> of oh x ow). <paramref name="phased"/>
    /// (<see cref="PhasedLength"/>) must be zero before the first image of a geometry: the split writes only the
    /// positions that hold input, so an odd plane's missing last phase row and column stay zero.
    /// </summary>
    public static void ForwardTapsStride2(float* x, int h, int w, TapPlan plan, float* y, float* phased, float* masks, float* bias = null, bool relu = false, float* residual = null)
    {
        CheckFamily(plan.Wide);
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1, stride = PlaneStride(oh, ow);
        float* planes = phased + Guard(ow);
        for (int c = 0; c < plan.InChannels; c++)
        {
            if (!plan.ReadsChannel(c)) continue;
            float* phases = planes + (long)4 * c * stride, plane = x + (long)c * h * w;
            StridedConv.SplitPlane(plane, h, w, phases, phases + stride, 2L * stride, ow, 0);
        }
        RunTaps(new Pass(planes, stride, ow, oh * ow, masks, y, bias, relu, residual), plan, plan.OffsetsStride2(stride, ow), plan.EndsStride2);
    }

    // Every block of a tap plan: its taps' shifts (offsets, from TapStarts[b]) and where its left-masked, unmasked and
    // right-masked taps end (ends[3b .. 3b+2]).
    private static void RunTaps(in Pass pass, TapPlan plan, nint[] offsets, int[] ends)
    {
        fixed (float* weights = plan.Weights)
        fixed (int* filters = plan.Filters)
        fixed (nint* shifts = offsets)
            for (int b = 0; b < plan.BlockCount; b++)
            {
                int f0 = plan.BlockStarts[b];
                var steps = new Steps(0, shifts + plan.TapStarts[b], ends[3 * b], ends[3 * b + 1], ends[3 * b + 2]);
                Dispatch(plan.BlockStarts[b + 1] - f0, in pass, in steps, weights + plan.WeightStarts[b], filters + f0);
            }
    }

    private static void CheckFamily(bool wide)
    {
        if (!Supported) throw new PlatformNotSupportedException("PositionTileConv256 runs on the Vector256 kernel family");
        if (wide) throw new InvalidOperationException("PositionTileConv256: the plan's blocks were made for the Vector512 family");
    }

    // Each plane (those the plan reads; all without one) copied whole between the guards; returns the first plane.
    private static float* CopyPlanes(float* x, int channels, TapPlan? plan, int h, int w, float* guarded)
    {
        int plane = h * w, stride = PlaneStride(h, w);
        float* planes = guarded + Guard(w);
        for (int c = 0; c < channels; c++)
            if (plan is null || plan.ReadsChannel(c))
                Buffer.MemoryCopy(x + (long)c * plane, planes + (long)c * stride, (long)plane * sizeof(float), (long)plane * sizeof(float));
        return planes;
    }

    private static void Dispatch(int count, in Pass pass, in Steps steps, float* weights, int* outs)
    {
        switch (count)
        {
            case 1: Block<GemmKernels.R1>(in pass, in steps, weights, outs); break;
            case 2: Block<GemmKernels.R2>(in pass, in steps, weights, outs); break;
            case 3: Block<GemmKernels.R3>(in pass, in steps, weights, outs); break;
            case 4: Block<GemmKernels.R4>(in pass, in steps, weights, outs); break;
            case 5: Block<GemmKernels.R5>(in pass, in steps, weights, outs); break;
            case 6: Block<GemmKernels.R6>(in pass, in steps, weights, outs); break;
            default: throw new ArgumentOutOfRangeException(nameof(count), $"a block of {count} filters (at most {MaxBlock})");
        }
    }

    // What every block of one image shares: the guarded planes, the column masks, the output, bias, residual and ReLU.
    private readonly struct Pass(float* planes, int stride, int w, int plane, float* masks, float* y, float* bias, bool relu, float* residual)
    {
        public readonly float* Planes = planes, Masks = masks, Y = y, Bias = bias, Residual = residual;
        public readonly int Stride = stride, W = w, Plane = plane;
        public readonly bool Relu = relu;
    }

    // A block's depth steps: every tap of `Inputs` channels in order (Shifts null), or a tap list, its shifts ordered
    // left taps [0, Left), centre [Left, Centre), right [Centre, Right).
    private readonly struct Steps(int inputs, nint* shifts, int left, int centre, int right)
    {
        public readonly int Inputs = inputs, Left = left, Centre = centre, Right = right;
        public readonly nint* Shifts = shifts;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<R>(in Pass pass, in Steps steps, float* weights, int* outs) where R : struct, GemmKernels.IRows
    {
        int plane = pass.Plane, w = pass.W, stride = pass.Stride;
        nint* shifts = steps.Shifts;
        for (int p = 0; p < plane; p += Chunk)
        {
            float* left = pass.Masks + 2 * p, right = left + Chunk;
            var z = Vector256<float>.Zero;
            Vector256<float> c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
            float* wt = weights;
            float* at = pass.Planes + p;
            if (shifts == null)
            {
                float* src = at - w;
                for (int c = 0; c < steps.Inputs; c++, src += stride)
                {
                    float* row = src;
                    for (int dy = 0; dy < 3; dy++, row += w)
                    {
                        var x0 = Vector256.Load(row - 1) & Vector256.Load(left);
                        var x1 = Vector256.Load(row + 7) & Vector256.Load(left + 8);
                        Accumulate<R>(x0, x1, wt, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
                        wt += R.N;
                        x0 = Vector256.Load(row);
                        x1 = Vector256.Load(row + 8);
                        Accumulate<R>(x0, x1, wt, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
                        wt += R.N;
                        x0 = Vector256.Load(row + 1) & Vector256.Load(right);
                        x1 = Vector256.Load(row + 9) & Vector256.Load(right + 8);
                        Accumulate<R>(x0, x1, wt, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
                        wt += R.N;
                    }
                }
            }
            else
            {
                int e = 0;
                for (; e < steps.Left; e++, wt += R.N)
                {
                    float* src = at + shifts[e];
                    var x0 = Vector256.Load(src) & Vector256.Load(left);
                    var x1 = Vector256.Load(src + 8) & Vector256.Load(left + 8);
                    Accumulate<R>(x0, x1, wt, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
                }
                for (; e < steps.Centre; e++, wt += R.N)
                {
                    float* src = at + shifts[e];
                    Accumulate<R>(Vector256.Load(src), Vector256.Load(src + 8), wt, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
                }
                for (; e < steps.Right; e++, wt += R.N)
                {
                    float* src = at + shifts[e];
                    var x0 = Vector256.Load(src) & Vector256.Load(right);
                    var x1 = Vector256.Load(src + 8) & Vector256.Load(right + 8);
                    Accumulate<R>(x0, x1, wt, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
                }
            }
            int count = Math.Min(Chunk, plane - p);
            if (R.N > 0) Store(in pass, outs[0], p, count, c00, c01);
            if (R.N > 1) Store(in pass, outs[1], p, count, c10, c11);
            if (R.N > 2) Store(in pass, outs[2], p, count, c20, c21);
            if (R.N > 3) Store(in pass, outs[3], p, count, c30, c31);
            if (R.N > 4) Store(in pass, outs[4], p, count, c40, c41);
            if (R.N > 5) Store(in pass, outs[5], p, count, c50, c51);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<R>(Vector256<float> x0, Vector256<float> x1, float* wt,
        ref Vector256<float> c00, ref Vector256<float> c01, ref Vector256<float> c10, ref Vector256<float> c11,
        ref Vector256<float> c20, ref Vector256<float> c21, ref Vector256<float> c30, ref Vector256<float> c31,
        ref Vector256<float> c40, ref Vector256<float> c41, ref Vector256<float> c50, ref Vector256<float> c51)
        where R : struct, GemmKernels.IRows
    {
        Vector256<float> k;
        if (R.N > 0) { k = Vector256.Create(wt[0]); c00 = Vector256.FusedMultiplyAdd(k, x0, c00); c01 = Vector256.FusedMultiplyAdd(k, x1, c01); }
        if (R.N > 1) { k = Vector256.Create(wt[1]); c10 = Vector256.FusedMultiplyAdd(k, x0, c10); c11 = Vector256.FusedMultiplyAdd(k, x1, c11); }
        if (R.N > 2) { k = Vector256.Create(wt[2]); c20 = Vector256.FusedMultiplyAdd(k, x0, c20); c21 = Vector256.FusedMultiplyAdd(k, x1, c21); }
        if (R.N > 3) { k = Vector256.Create(wt[3]); c30 = Vector256.FusedMultiplyAdd(k, x0, c30); c31 = Vector256.FusedMultiplyAdd(k, x1, c31); }
        if (R.N > 4) { k = Vector256.Create(wt[4]); c40 = Vector256.FusedMultiplyAdd(k, x0, c40); c41 = Vector256.FusedMultiplyAdd(k, x1, c41); }
        if (R.N > 5) { k = Vector256.Create(wt[5]); c50 = Vector256.FusedMultiplyAdd(k, x0, c50); c51 = Vector256.FusedMultiplyAdd(k, x1, c51); }
    }

    // Filter o's 16 positions from p (count of them inside the plane) plus bias, residual and ReLU, into the output.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(in Pass pass, int o, int p, int count, Vector256<float> a, Vector256<float> b)
    {
        long at = (long)o * pass.Plane + p;
        if (pass.Bias != null)
        {
            var shift = Vector256.Create(pass.Bias[o]);
            a += shift;
            b += shift;
        }
        float* dst = pass.Y + at, res = pass.Residual == null ? null : pass.Residual + at;
        // The plane's last chunk may be partial: the residual read and the output written only where the plane is.
        Simd.Finish256(dst, a, res, pass.Relu, count);
        Simd.Finish256(dst + 8, b, res == null ? null : res + 8, pass.Relu, count - 8);
    }
}
