using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// A frozen 3x3 weight in register blocks of up to 8 filters, [depth step][filter] with a depth step per (input
/// channel, tap): the plan of <see cref="CompactTileConv.Forward"/>, whose vector lanes are output positions and whose
/// registers hold a block's accumulators, for filter counts that the direct tiles (<see cref="PaddedConv"/>, lanes =
/// 16 or 32 filters) would leave partly idle. Blocks are as even as the filter count allows (12 = 6 + 6, 11 = 6 + 5,
/// 49 = 7 x 7), so no filter is computed that does not exist.
/// </summary>
internal static class PositionTileConv
{
    /// <summary>True where the kernels that take the plan run (AVX-512).</summary>
    public static bool Supported => Avx512F.IsSupported && Fma.IsSupported;

    /// <summary>Filters per register block: two vectors of positions per filter, so 8 filters' accumulators take 16 of the 32 vector registers.</summary>
    public const int MaxBlock = 8;

    /// <summary>A frozen weight split into register blocks, each packed [depth step][filter].</summary>
    public sealed class Plan
    {
        internal Plan(int outChannels, int inChannels, int[] blockStarts, float[] weights, bool wide)
        {
            OutChannels = outChannels; InChannels = inChannels; BlockStarts = blockStarts; Weights = weights; Wide = wide;
        }

        /// <summary>Output channels (filters).</summary>
        public int OutChannels { get; }

        /// <summary>Input channels.</summary>
        public int InChannels { get; }

        /// <summary>Depth steps: every tap of every input channel.</summary>
        public int Depth => InChannels * 9;

        /// <summary>
        /// True for <see cref="CompactTileConv"/>'s blocks of up to 8 filters (Vector512), false for
        /// <see cref="PositionTileConv256"/>'s of up to 6.
        /// </summary>
        public bool Wide { get; }

        // Block b holds filters [BlockStarts[b], BlockStarts[b+1]); its weights start at Depth*BlockStarts[b].
        internal int[] BlockStarts { get; }
        internal float[] Weights { get; }
    }

    /// <summary>Filters per register block for <paramref name="outChannels"/> filters: as even as possible, at most <paramref name="maxBlock"/>.</summary>
    public static int[] BlockStarts(int outChannels, int maxBlock = MaxBlock)
    {
        int blocks = (outChannels + maxBlock - 1) / maxBlock;
        var starts = new int[blocks + 1];
        for (int b = 0; b <= blocks; b++) starts[b] = (int)((long)outChannels * b / blocks);
        return starts;
    }

    /// <summary>The plan of a [outChannels, inChannels*9] weight for <see cref="CompactTileConv"/> (Vector512).</summary>
    public static Plan Create(ReadOnlySpan<float> weight, int outChannels, int inChannels) => Create(weight, outChannels, inChannels, wide: true);

    /// <summary>The plan of a [outChannels, inChannels*9] weight for <see cref="PositionTileConv256"/> (Vector256).</summary>
    public static Plan Create256(ReadOnlySpan<float> weight, int outChannels, int inChannels) => Create(weight, outChannels, inChannels, wide: false);

    private static Plan Create(ReadOnlySpan<float> weight, int outChannels, int inChannels, bool wide)
    {
        int depth = inChannels * 9;
        var starts = BlockStarts(outChannels, wide ? MaxBlock : PositionTileConv256.MaxBlock);
        var packed = new float[outChannels * depth];
        for (int b = 0; b + 1 < starts.Length; b++)
        {
            int o0 = starts[b], count = starts[b + 1] - o0, at = depth * o0;
            for (int s = 0; s < depth; s++)
                for (int o = 0; o < count; o++)
                    packed[at++] = weight[(o0 + o) * depth + s];
        }
        return new Plan(outChannels, inChannels, starts, packed, wide);
    }
}
