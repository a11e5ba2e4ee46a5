using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// A stride-2 3x3 convolution with padding 1 on the input's parity phases whose vector lanes are 16 neighbouring
/// output positions at the phases' pitch and whose registers hold up to 8 filters at a time: for filter counts that
/// the direct tiles (<see cref="PaddedConv"/>, lanes = 16 or 32 filters) would leave partly idle. A pruned width of
/// 12 filters fills 12 of a tile's 16 lanes; here it is two register blocks of 6 and every lane is a real position
/// except the pitch column. Inference only (the weights are repacked once into a <see cref="Plan"/>, which the
/// stride-1 kernel <see cref="CompactTileConv"/> shares). The phases and scratch are <see cref="SliceSparseConv"/>'s.
/// </summary>
/// <remarks>
/// A depth step is one (input channel, tap): two unaligned loads of the shifted input shared by the block, then per
/// filter a broadcast weight and two multiply-adds, one into each of its accumulator chains. Blocks are as even as
/// the filter count allows (12 = 6 + 6, 11 = 6 + 5, 49 = 7 x 7), so no filter is computed that does not exist.
/// Each filter count has its own compiled block (<c>Block&lt;F6&gt;</c>): the accumulators are named locals the JIT
/// keeps in registers.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class PositionTileConv
{
    /// <summary>True where the kernel runs (AVX-512).</summary>
    public static bool Supported => Avx512F.IsSupported && Fma.IsSupported;

    // Pitched positions per chunk: two vectors per filter, so 8 filters take 16 of the 32 vector registers.
    private const int Chunk = 32;
    private const int MaxBlock = 8;

    /// <summary>A frozen weight split into register blocks, each packed [depth step][filter].</summary>
    public sealed class Plan
    {
        internal Plan(int outChannels, int inChannels, int[] blockStarts, float[] weights)
        {
            OutChannels = outChannels; InChannels = inChannels; BlockStarts = blockStarts; Weights = weights;
        }

        /// <summary>Output channels (filters).</summary>
        public int OutChannels { get; }

        /// <summary>Input channels.</summary>
        public int InChannels { get; }

        /// <summary>Depth steps: every tap of every input channel.</summary>
        public int Depth => InChannels * 9;

        // Block b holds filters [BlockStarts[b], BlockStarts[b+1]); its weights start at Depth*BlockStarts[b].
        internal int[] BlockStarts { get; }
        internal float[] Weights { get; }
    }

    /// <summary>Filters per register block for <paramref name="outChannels"/> filters: as even as possible, at most 8.</summary>
    public static int[] BlockStarts(int outChannels)
    {
        int blocks = (outChannels + MaxBlock - 1) / MaxBlock;
        var starts = new int[blocks + 1];
        for (int b = 0; b <= blocks; b++) starts[b] = (int)((long)outChannels * b / blocks);
        return starts;
    }

    /// <summary>The plan of a [outChannels, inChannels*9] weight.</summary>
    public static Plan Create(ReadOnlySpan<float> weight, int outChannels, int inChannels)
    {
        int depth = inChannels * 9;
        var starts = BlockStarts(outChannels);
        var packed = new float[outChannels * depth];
        for (int b = 0; b + 1 < starts.Length; b++)
        {
            int o0 = starts[b], count = starts[b + 1] - o0, at = depth * o0;
            for (int s = 0; s < depth; s++)
                for (int o = 0; o < count; o++)
                    packed[at++] = weight[(o0 + o) * depth + s];
        }
        return new Plan(outChannels, inChannels, starts, packed);
    }

    /// <summary>
    /// One image at stride 2: y[o] (oh x ow) = the convolution plus the bias, a residual (laid out as y) and a ReLU,
    /// computed on the four parity phases <see cref="StridedConv"/> splits the padded input
    /// into: tap (ky, kx) reads phase (ky % 2, kx % 2) shifted by ky / 2 rows and kx / 2 columns.
    /// <paramref name="phased"/> (<see cref="SliceSparseConv.PhasedLength"/>) must be zero before the first image of a run.
    /// </summary>
    public static void ForwardStride2(float* x, int h, int w, Plan plan, float* y, float* phased, float* bias = null, bool relu = false, float* residual = null)
    {
        if (!Supported) throw new PlatformNotSupportedException("PositionTileConv needs AVX-512");
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
        StridedConv.Split(x, plan.InChannels, h, w, oh, ow, phased);
        int* offsets = stackalloc int[plan.Depth];
        StridedConv.Offsets(plan.InChannels, oh, ow, offsets);
        Run(phased, offsets, StridedConv.PhasePitch(ow), oh, ow, plan, y, bias, relu, residual);
    }

    // The chunks of an image's pitched output positions; offsets[c*9 + tap] is where tap (c, ky, kx) of output
    // position 0 lies in the input.
    private static void Run(float* input, int* offsets, int pitch, int oh, int ow, Plan plan, float* y, float* bias, bool relu, float* residual)
    {
        int positions = (oh - 1) * pitch + ow, depth = plan.Depth;
        long plane = (long)oh * ow;
        float* output = stackalloc float[MaxBlock * Chunk + 16];
        output = (float*)(((nint)output + 63) & ~(nint)63);
        int* runs = stackalloc int[3 * (Chunk + 2)];
        var starts = plan.BlockStarts;
        fixed (float* weights = plan.Weights)
            for (int j0 = 0; j0 < positions; j0 += Chunk)
            {
                int runCount = SliceSparseConv.Runs(j0, Math.Min(Chunk, positions - j0), pitch, ow, runs);
                for (int b = 0; b + 1 < starts.Length; b++)
                {
                    int o0 = starts[b], count = starts[b + 1] - o0;
                    Dispatch(count, depth, input + j0, offsets, weights + (long)depth * o0, output);
                    for (int o = 0; o < count; o++)
                        SliceSparseConv.WritePass(output + o * Chunk, runs, runCount, y + (o0 + o) * plane, bias == null ? 0f : bias[o0 + o], relu,
                            residual == null ? null : residual + (o0 + o) * plane);
                }
            }
    }

    private static void Dispatch(int filters, int depth, float* input, int* offsets, float* weights, float* output)
    {
        switch (filters)
        {
            case 1: Block<F1>(depth, input, offsets, weights, output); break;
            case 2: Block<F2>(depth, input, offsets, weights, output); break;
            case 3: Block<F3>(depth, input, offsets, weights, output); break;
            case 4: Block<F4>(depth, input, offsets, weights, output); break;
            case 5: Block<F5>(depth, input, offsets, weights, output); break;
            case 6: Block<F6>(depth, input, offsets, weights, output); break;
            case 7: Block<F7>(depth, input, offsets, weights, output); break;
            case 8: Block<F8>(depth, input, offsets, weights, output); break;
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

    // One block of T.Filters filters on one chunk of 32 pitched positions, into output[o*32 ..].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<T>(int depth, float* input, int* offsets, float* weights, float* output) where T : struct, IFilters
    {
        var zero = Vector512<float>.Zero;
        Vector512<float> a00 = zero, a01 = zero, a10 = zero, a11 = zero, a20 = zero, a21 = zero, a30 = zero, a31 = zero, a40 = zero, a41 = zero, a50 = zero, a51 = zero, a60 = zero, a61 = zero, a70 = zero, a71 = zero;
        float* wr = weights;
        for (int s = 0; s < depth; s++, wr += T.Filters)
        {
            float* p = input + offsets[s];
            var v = Vector512.Load(p);
            var u = Vector512.Load(p + 16);
            if (T.Filters > 0) { var w = Vector512.Create(wr[0]); a00 = Vector512.FusedMultiplyAdd(v, w, a00); a01 = Vector512.FusedMultiplyAdd(u, w, a01); }
            if (T.Filters > 1) { var w = Vector512.Create(wr[1]); a10 = Vector512.FusedMultiplyAdd(v, w, a10); a11 = Vector512.FusedMultiplyAdd(u, w, a11); }
            if (T.Filters > 2) { var w = Vector512.Create(wr[2]); a20 = Vector512.FusedMultiplyAdd(v, w, a20); a21 = Vector512.FusedMultiplyAdd(u, w, a21); }
            if (T.Filters > 3) { var w = Vector512.Create(wr[3]); a30 = Vector512.FusedMultiplyAdd(v, w, a30); a31 = Vector512.FusedMultiplyAdd(u, w, a31); }
            if (T.Filters > 4) { var w = Vector512.Create(wr[4]); a40 = Vector512.FusedMultiplyAdd(v, w, a40); a41 = Vector512.FusedMultiplyAdd(u, w, a41); }
            if (T.Filters > 5) { var w = Vector512.Create(wr[5]); a50 = Vector512.FusedMultiplyAdd(v, w, a50); a51 = Vector512.FusedMultiplyAdd(u, w, a51); }
            if (T.Filters > 6) { var w = Vector512.Create(wr[6]); a60 = Vector512.FusedMultiplyAdd(v, w, a60); a61 = Vector512.FusedMultiplyAdd(u, w, a61); }
            if (T.Filters > 7) { var w = Vector512.Create(wr[7]); a70 = Vector512.FusedMultiplyAdd(v, w, a70); a71 = Vector512.FusedMultiplyAdd(u, w, a71); }
        }
        if (T.Filters > 0) { a00.Store(output + 0); a01.Store(output + 16); }
        if (T.Filters > 1) { a10.Store(output + 32); a11.Store(output + 48); }
        if (T.Filters > 2) { a20.Store(output + 64); a21.Store(output + 80); }
        if (T.Filters > 3) { a30.Store(output + 96); a31.Store(output + 112); }
        if (T.Filters > 4) { a40.Store(output + 128); a41.Store(output + 144); }
        if (T.Filters > 5) { a50.Store(output + 160); a51.Store(output + 176); }
        if (T.Filters > 6) { a60.Store(output + 192); a61.Store(output + 208); }
        if (T.Filters > 7) { a70.Store(output + 224); a71.Store(output + 240); }
    }
}
