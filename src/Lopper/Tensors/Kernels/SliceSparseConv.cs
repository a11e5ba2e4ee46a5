using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// A 3x3 convolution with padding 1 (stride 1, or 2 through the input's parity phases) whose kernel slices
/// W[o, c, :, :] are largely zero (connection pruning, as SNACS leaves it): each surviving slice costs its
/// multiply-adds and the pruned ones cost nothing, so the time follows the surviving slices rather than the dense
/// shape. Inference only (the weights are planned once).
/// </summary>
/// <remarks>
/// The direct tiles (<see cref="PaddedConv"/>) vectorise over output channels, so a zero slice is one lane of a
/// multiply-add that runs anyway, and a skip pays only where a whole block of 16 or 32 output channels lost the
/// same input channel, which scattered connection cuts almost never do. Here the lanes are 16 neighbouring
/// output positions at the padded pitch (as the GEMM path lays them out) and the weights are broadcast, so
/// every slice can be skipped on its own. The work runs input channel by input channel over chunks of 32
/// positions: an input channel's nine shifted views of the chunk (three rows loaded once, the other two taps
/// of each row made by lane rotation) stay in registers while every filter that reads that channel adds its
/// slice into its accumulators in L1. The first version ran filter by filter and rebuilt the rotated views for
/// every slice: the rotations share the ports of the multiply-adds and it ran at 0.5-0.85 of the dense tiles'
/// rate with nothing pruned (7x7 to 28x28 planes, one Zen 5 core); sharing them over the readers of a channel
/// leaves per slice and chunk its 18 multiply-adds, two adds, two accumulator loads and two stores. Output
/// channels are not vector lanes here, so a filter-pruned width such as 17 wastes nothing either.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class SliceSparseConv
{
    /// <summary>True where the kernel runs (AVX-512, as the lane rotation is a 512-bit instruction).</summary>
    public static bool Supported => Avx512F.IsSupported && Gemm.RowsSupported;

    // Pitched positions per chunk: two vectors, whose nine shifted views (18 registers) stay in registers.
    private const int Chunk = 32;

    /// <summary>Floats the kernel may read past the last padded plane (its last chunk and look-ahead vector).</summary>
    public const int ReadSlack = Chunk + 32;

    /// <summary>The weight of one convolution held as per-input-channel lists of surviving 3x3 slices.</summary>
    public sealed class Plan
    {
        internal Plan(int outChannels, int inChannels, int[] starts, int[] outputs, float[] weights)
        {
            OutChannels = outChannels; InChannels = inChannels; Starts = starts; Outputs = outputs; Weights = weights;
        }

        /// <summary>Output channels (filters).</summary>
        public int OutChannels { get; }

        /// <summary>Input channels.</summary>
        public int InChannels { get; }

        // Input channel c's slices are entries [Starts[c], Starts[c+1]): filter Outputs[e], taps Weights[9e .. 9e+8].
        internal int[] Starts { get; }
        internal int[] Outputs { get; }
        internal float[] Weights { get; }

        /// <summary>Surviving slices over all slices.</summary>
        public double Density => OutChannels * InChannels == 0 ? 1 : (double)Outputs.Length / ((long)OutChannels * InChannels);
    }

    /// <summary>
    /// The plan of a [outChannels, inChannels*9] weight when at most <paramref name="maxDensity"/> of its slices
    /// survive (a slice survives when any of its nine taps is non-zero); null otherwise.
    /// </summary>
    public static Plan? TryPlan(ReadOnlySpan<float> weight, int outChannels, int inChannels, double maxDensity)
    {
        int live = 0;
        for (int s = 0; s < outChannels * inChannels; s++)
            if (weight.Slice(s * 9, 9).ContainsAnyExcept(0f)) live++;
        if (live > maxDensity * outChannels * inChannels) return null;
        var starts = new int[inChannels + 1];
        var outputs = new int[live];
        var weights = new float[live * 9];
        int e = 0;
        for (int c = 0; c < inChannels; c++)
        {
            starts[c] = e;
            for (int o = 0; o < outChannels; o++)
            {
                var slice = weight.Slice((o * inChannels + c) * 9, 9);
                if (!slice.ContainsAnyExcept(0f)) continue;
                outputs[e] = o;
                slice.CopyTo(weights.AsSpan(e * 9, 9));
                e++;
            }
        }
        starts[inChannels] = e;
        return new Plan(outChannels, inChannels, starts, outputs, weights);
    }

    /// <summary>Floats of padded input scratch <see cref="Forward"/> needs for an h x w image.</summary>
    public static int PaddedLength(int channels, int h, int w) => PaddedConv.PaddedLength(channels, h, w, 3) + ReadSlack;

    /// <summary>Floats of accumulator scratch <see cref="Forward"/> needs.</summary>
    public static int AccumulatorLength(Plan plan) => plan.OutChannels * PassPositions + 16;

    // Positions per pass: four chunks whose accumulators (per output channel) are written out together, so that
    // each image row leaves in one run rather than in pieces cut at every chunk's edge.
    private const int PassPositions = 4 * Chunk;

    /// <summary>
    /// One image: y[o] (h x w) = sum over o's surviving slices of the slice convolved with its input plane, plus
    /// the bias, a residual (laid out as y) and a ReLU, applied while each pass is written out.
    /// <paramref name="padded"/> and <paramref name="accumulators"/> are scratch of <see cref="PaddedLength"/> and
    /// <see cref="AccumulatorLength"/> floats.
    /// </summary>
    public static void Forward(float* x, int h, int w, Plan plan, float* y, float* padded, float* accumulators,
        float* bias = null, bool relu = false, float* residual = null)
    {
        if (!Supported) throw new PlatformNotSupportedException("SliceSparseConv needs AVX-512");
        PaddedConv.Pad(x, plan.InChannels, h, w, 3, padded);
        // Output (oy, ox) is pitched position oy*pitch + ox; the kernel reads the padded planes from there.
        Run(padded, PaddedConv.PlaneStride(h, w, 3), 0, PaddedConv.Pitch(w, 3), h, w, plan, y, accumulators, bias, relu, residual);
    }

    /// <summary>Floats of phase scratch <see cref="ForwardStride2"/> needs for oh x ow outputs.</summary>
    public static int PhasedLength(int channels, int oh, int ow) => StridedConv.PhasedLength(channels, oh, ow) + ReadSlack;

    /// <summary>
    /// <see cref="Forward"/> for a stride-2 3x3 convolution with padding 1 (a ResNet's downsampling layer): the
    /// padded input split into its four parity phases as <see cref="StridedConv"/> splits it, each tap then a
    /// phase read at a shift of 0 or 1 row and 0 or 1 column. <paramref name="phased"/> (<see cref="PhasedLength"/>)
    /// must be zero before the first image of a run, as for <see cref="StridedConv.Forward"/>.
    /// </summary>
    public static void ForwardStride2(float* x, int h, int w, Plan plan, float* y, float* phased, float* accumulators,
        float* bias = null, bool relu = false, float* residual = null)
    {
        if (!Supported) throw new PlatformNotSupportedException("SliceSparseConv needs AVX-512");
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1, phaseStride = StridedConv.PhaseStride(oh, ow);
        StridedConv.Split(x, plan.InChannels, h, w, oh, ow, phased);
        Run(phased, 4 * phaseStride, phaseStride, StridedConv.PhasePitch(ow), oh, ow, plan, y, accumulators, bias, relu, residual);
    }

    // The passes over an image's pitched output positions. Input channel c starts at input + c*channelStride; with
    // phaseStride > 0 it is four parity phases that far apart (stride 2), otherwise one padded plane (stride 1).
    private static void Run(float* input, int channelStride, int phaseStride, int pitch, int oh, int ow, Plan plan, float* y, float* accumulators,
        float* bias, bool relu, float* residual)
    {
        int positions = (oh - 1) * pitch + ow;
        long plane = (long)oh * ow;
        // 64-byte aligned: each accumulator vector is loaded right after it was stored.
        float* acc = (float*)(((nint)accumulators + 63) & ~(nint)63);
        var accumulatorFloats = new Span<float>(acc, plan.OutChannels * PassPositions);
        // A pass's runs: [from, from + length) of its positions to y offset dst (pitch >= 2, so at most 66 runs).
        int* runs = stackalloc int[3 * (PassPositions / 2 + 2)];
        fixed (int* starts = plan.Starts, outputs = plan.Outputs)
        fixed (float* weights = plan.Weights)
            for (int j0 = 0; j0 < positions; j0 += PassPositions)
            {
                int length = Math.Min(PassPositions, positions - j0), chunks = (length + Chunk - 1) / Chunk;
                accumulatorFloats.Clear();
                for (int c = 0; c < plan.InChannels; c++)
                {
                    int first = starts[c], count = starts[c + 1] - first;
                    if (count == 0) continue;
                    float* channel = input + (long)c * channelStride + j0;
                    for (int k = 0; k < chunks; k++)
                        Channel(count, channel + k * Chunk, pitch, phaseStride, outputs + first, weights + 9L * first, acc + k * Chunk);
                }
                int runCount = Runs(j0, length, pitch, ow, runs);
                for (int o = 0; o < plan.OutChannels; o++)
                    WritePass(acc + o * PassPositions, runs, runCount, y + o * plane, bias == null ? 0f : bias[o], relu,
                        residual == null ? null : residual + o * plane);
            }
    }

    // The runs of pitched positions [j0, j0 + length) that are output pixels (the pitch columns between rows dropped):
    // (first position - j0, length, offset in the output plane) each; returns their count.
    internal static int Runs(int j0, int length, int pitch, int ow, int* runs)
    {
        int count = 0;
        for (int oy = j0 / pitch; oy * pitch < j0 + length; oy++)
        {
            int from = Math.Max(j0, oy * pitch), to = Math.Min(j0 + length, oy * pitch + ow);
            if (to <= from) continue;
            runs[3 * count] = from - j0;
            runs[3 * count + 1] = to - from;
            runs[3 * count + 2] = oy * ow + (from - oy * pitch);
            count++;
        }
        return count;
    }

    // One output channel's runs of a pass into its plane (the pitch columns between rows are dropped).
    internal static void WritePass(float* pass, int* runs, int runCount, float* y, float bias, bool relu, float* residual)
    {
        var b = Vector512.Create(bias);
        var zero = Vector512<float>.Zero;
        for (int r = 0; r < runCount; r++)
        {
            float* src = pass + runs[3 * r];
            int length = runs[3 * r + 1], dst = runs[3 * r + 2];
            for (int at = 0; at < length; at += 16)
            {
                var mask = Simd.FirstLanes(length - at);
                var v = Avx512F.MaskLoad(src + at, mask, zero) + b;
                if (residual != null) v += Avx512F.MaskLoad(residual + dst + at, mask, zero);
                if (relu) v = Vector512.Max(v, zero);
                Avx512F.MaskStore(y + dst + at, mask, v);
            }
        }
    }

    // One input channel's slices on one chunk: `input` is the chunk's first position in the channel's padded
    // plane (stride 1, phaseStride 0) or in the first of its four parity phases (stride 2); slice e adds weights[9e ..] times the nine shifted views into the chunk's accumulators of filter
    // outputs[e], at acc + PassPositions*outputs[e].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Channel(int count, float* input, int pitch, int phaseStride, int* outputs, float* weights, float* acc)
    {
        // The nine taps' views of the chunk's two vectors, named as the stride-1 case reads them: xR0/xR1 tap
        // (R, 0), sR10/sR11 tap (R, 1), sR20/sR21 tap (R, 2).
        Vector512<float> x00, x01, s010, s011, s020, s021, x10, x11, s110, s111, s120, s121, x20, x21, s210, s211, s220, s221;
        if (phaseStride == 0)
        {
            // Stride 1: kernel row R is padded row R below; its taps are the row shifted by 0, 1 and 2 lanes.
            float* r1 = input + pitch, r2 = input + 2 * pitch;
            x00 = Vector512.Load(input); x01 = Vector512.Load(input + 16); var x0h = Vector512.Load(input + 32);
            x10 = Vector512.Load(r1); x11 = Vector512.Load(r1 + 16); var x1h = Vector512.Load(r1 + 32);
            x20 = Vector512.Load(r2); x21 = Vector512.Load(r2 + 16); var x2h = Vector512.Load(r2 + 32);
            s010 = Shift1(x01, x00); s020 = Shift2(x01, x00); s011 = Shift1(x0h, x01); s021 = Shift2(x0h, x01);
            s110 = Shift1(x11, x10); s120 = Shift2(x11, x10); s111 = Shift1(x1h, x11); s121 = Shift2(x1h, x11);
            s210 = Shift1(x21, x20); s220 = Shift2(x21, x20); s211 = Shift1(x2h, x21); s221 = Shift2(x2h, x21);
        }
        else
        {
            // Stride 2: tap (ky, kx) is phase (ky % 2, kx % 2) shifted by ky / 2 rows and kx / 2 lanes.
            float* p0 = input, p1 = input + phaseStride, p2 = input + 2 * phaseStride, p3 = input + 3 * phaseStride;
            x00 = Vector512.Load(p0); x01 = Vector512.Load(p0 + 16); var p0h = Vector512.Load(p0 + 32);
            s020 = Shift1(x01, x00); s021 = Shift1(p0h, x01);
            s010 = Vector512.Load(p1); s011 = Vector512.Load(p1 + 16);
            x10 = Vector512.Load(p2); x11 = Vector512.Load(p2 + 16); var p2h = Vector512.Load(p2 + 32);
            s120 = Shift1(x11, x10); s121 = Shift1(p2h, x11);
            s110 = Vector512.Load(p3); s111 = Vector512.Load(p3 + 16);
            x20 = Vector512.Load(p0 + pitch); x21 = Vector512.Load(p0 + pitch + 16); var q0h = Vector512.Load(p0 + pitch + 32);
            s220 = Shift1(x21, x20); s221 = Shift1(q0h, x21);
            s210 = Vector512.Load(p1 + pitch); s211 = Vector512.Load(p1 + pitch + 16);
        }
        for (int e = 0; e < count; e++, weights += 9)
        {
            // Two chains per vector (taps 0-3 onto the accumulator, taps 4-8 from zero, then one add): a single
            // chain of nine dependent multiply-adds per slice left the loop waiting on their latency.
            float* a = acc + outputs[e] * PassPositions;
            var a0 = Vector512.Load(a);
            var a1 = Vector512.Load(a + 16);
            var w = Vector512.Create(weights[0]);
            a0 = Vector512.FusedMultiplyAdd(x00, w, a0); a1 = Vector512.FusedMultiplyAdd(x01, w, a1);
            w = Vector512.Create(weights[4]);
            var b0 = s110 * w; var b1 = s111 * w;
            w = Vector512.Create(weights[1]);
            a0 = Vector512.FusedMultiplyAdd(s010, w, a0); a1 = Vector512.FusedMultiplyAdd(s011, w, a1);
            w = Vector512.Create(weights[5]);
            b0 = Vector512.FusedMultiplyAdd(s120, w, b0); b1 = Vector512.FusedMultiplyAdd(s121, w, b1);
            w = Vector512.Create(weights[2]);
            a0 = Vector512.FusedMultiplyAdd(s020, w, a0); a1 = Vector512.FusedMultiplyAdd(s021, w, a1);
            w = Vector512.Create(weights[6]);
            b0 = Vector512.FusedMultiplyAdd(x20, w, b0); b1 = Vector512.FusedMultiplyAdd(x21, w, b1);
            w = Vector512.Create(weights[3]);
            a0 = Vector512.FusedMultiplyAdd(x10, w, a0); a1 = Vector512.FusedMultiplyAdd(x11, w, a1);
            w = Vector512.Create(weights[7]);
            b0 = Vector512.FusedMultiplyAdd(s210, w, b0); b1 = Vector512.FusedMultiplyAdd(s211, w, b1);
            w = Vector512.Create(weights[8]);
            b0 = Vector512.FusedMultiplyAdd(s220, w, b0); b1 = Vector512.FusedMultiplyAdd(s221, w, b1);
            a0 += b0;
            a1 += b1;
            a0.Store(a);
            a1.Store(a + 16);
        }
    }

    // lo shifted down by one or two lanes with hi's first lanes coming in: positions p+1 .. p+16, p+2 .. p+17.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Shift1(Vector512<float> hi, Vector512<float> lo) => Avx512F.AlignRight32(hi.AsUInt32(), lo.AsUInt32(), 1).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Shift2(Vector512<float> hi, Vector512<float> lo) => Avx512F.AlignRight32(hi.AsUInt32(), lo.AsUInt32(), 2).AsSingle();
}
