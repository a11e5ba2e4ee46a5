namespace Lopper.Tensors.Kernels;

/// <summary>
/// A frozen 3x3 weight for <see cref="CompactTileConv.ForwardTaps"/>: register blocks of up to 8 filters, each with the
/// list of taps (c*9 + ky*3 + kx) it multiplies. A kernel-column subset (SPP) gives every block the same taps; a
/// connection-pruned weight (SNACS) gives each block the input channels its filters read, with filters of equal
/// channel sets grouped so that few zero slices are computed.
/// </summary>
internal sealed class TapPlan
{
    private const int MaxBlock = 8;

    private TapPlan(int outChannels, int inChannels, int[] filters, int[] blockStarts, int[] taps, int[] tapStarts, int[] ends, float[] weights, int[] weightStarts, long computedSlices, long keptSlices, bool wide)
    {
        Wide = wide;
        OutChannels = outChannels; InChannels = inChannels; Filters = filters; BlockStarts = blockStarts; Taps = taps;
        TapStarts = tapStarts; Ends = ends; Weights = weights; WeightStarts = weightStarts;
        EndsStride2 = new int[ends.Length];
        for (int b = 0; b < ends.Length; b += 3) (EndsStride2[b], EndsStride2[b + 1], EndsStride2[b + 2]) = (ends[b], ends[b + 2], ends[b + 2]);
        long all = (long)outChannels * inChannels;
        ComputedShare = all == 0 ? 1 : (double)computedSlices / all;
        CostShare = ComputedShare;
        KeptShare = all == 0 ? 1 : (double)keptSlices / all;
        _reads = new bool[inChannels];
        foreach (int t in taps) _reads[t / 9] = true;
        CentreOnly = Array.TrueForAll(taps, t => t % 9 == 4);
    }

    /// <summary>
    /// True when every tap is a kernel's centre (a 1x1 weight placed in a 3x3 one): at stride 2 only the even rows'
    /// even columns (phase (0, 0)) are read.
    /// </summary>
    internal bool CentreOnly { get; }

    /// <summary>
    /// True for <see cref="CompactTileConv"/>'s blocks of up to 8 filters (Vector512), false for
    /// <see cref="PositionTileConv256"/>'s of up to 6.
    /// </summary>
    public bool Wide { get; }

    /// <summary>Output channels (filters).</summary>
    public int OutChannels { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Kernel slices (filter, input channel) multiplied, over all slices: the share of the dense work done.</summary>
    public double ComputedShare { get; }

    /// <summary>Kernel slices with a nonzero weight, over all slices (at most <see cref="ComputedShare"/>).</summary>
    public double KeptShare { get; }

    /// <summary>
    /// Multiply-adds the blocks run (each block's taps times its filters), over the dense weight's:
    /// <paramref name="denseTaps"/> per kernel slice (9; 1 for a 1x1 weight placed at the centre taps).
    /// </summary>
    public double MultipliedShare(int denseTaps = 9)
    {
        long multiplied = 0;
        for (int b = 0; b < BlockCount; b++) multiplied += (long)(TapStarts[b + 1] - TapStarts[b]) * (BlockStarts[b + 1] - BlockStarts[b]);
        long all = (long)OutChannels * InChannels * denseTaps;
        return all == 0 ? 1 : (double)multiplied / all;
    }

    /// <summary>
    /// Multiply-adds with a nonzero weight, over the dense weight's (<paramref name="denseTaps"/> as in
    /// <see cref="MultipliedShare"/>): what the blocks would run if each filter multiplied only its own taps. The gap
    /// to <see cref="MultipliedShare"/> is the zeros a block multiplies for filters that share its taps but not their
    /// weights.
    /// </summary>
    public double NonzeroShare(int denseTaps = 9)
    {
        long all = (long)OutChannels * InChannels * denseTaps;
        return all == 0 ? 1 : (double)(Weights.Length - Weights.AsSpan().Count(0f)) / all;
    }

    /// <summary>Filters in blocks with no tap: they read no input, and their output is the bias (and residual) alone.</summary>
    public int FiltersReadingNothing
    {
        get
        {
            int count = 0;
            for (int b = 0; b < BlockCount; b++)
                if (TapStarts[b + 1] == TapStarts[b]) count += BlockStarts[b + 1] - BlockStarts[b];
            return count;
        }
    }

    /// <summary>
    /// One line for profiles: the blocks, the share of the dense multiply-adds they run and of those with a nonzero
    /// weight, and the filters that read nothing (a connection pruning that cut all of a filter's inputs leaves its
    /// output to write at full cost).
    /// </summary>
    public string Describe(int denseTaps = 9)
    {
        int smallest = int.MaxValue, largest = 0;
        for (int b = 0; b < BlockCount; b++)
        {
            int f = BlockStarts[b + 1] - BlockStarts[b];
            (smallest, largest) = (Math.Min(smallest, f), Math.Max(largest, f));
        }
        string sizes = smallest == largest ? $"{largest}" : $"{smallest}-{largest}";
        string nothing = FiltersReadingNothing is int idle and > 0 ? $", {idle} of {OutChannels} filters read no input" : "";
        string blocks = BlockCount == 1 ? "block" : "blocks", filters = largest == 1 ? "filter" : "filters";
        return $"tap lists: {BlockCount} {blocks} of {sizes} {filters}, {MultipliedShare(denseTaps) * 100:F0} % of the dense multiply-adds " +
            $"({NonzeroShare(denseTaps) * 100:F0} % nonzero){nothing}";
    }

    /// <summary>
    /// <see cref="ComputedShare"/> with blocks of fewer than 4 filters counted as 4: a block's accumulators are two
    /// chains per filter, and under 8 chains the multiply-adds wait on each other, so a small block takes about as
    /// long as a block of 4.
    /// </summary>
    public double CostShare { get; private set; }

    private static long Cost(int channels, int filters) => (long)channels * Math.Max(filters, 4);

    // Block b computes filters Filters[BlockStarts[b] .. BlockStarts[b+1]) over taps Taps[TapStarts[b] .. TapStarts[b+1]),
    // ordered by column shift: Ends[3b .. 3b+2] (relative to TapStarts[b]) end the left, centre and right taps. Its
    // weights, [tap][filter], start at WeightStarts[b].
    internal int[] Filters { get; }
    internal int[] BlockStarts { get; }
    internal int[] Taps { get; }
    internal int[] TapStarts { get; }
    internal int[] Ends { get; }
    internal float[] Weights { get; }
    internal int[] WeightStarts { get; }
    internal int BlockCount => BlockStarts.Length - 1;

    private readonly bool[] _reads;
    // The last two geometries' offsets: stride 1 uses two (the guarded copy's and the input's own plane stride). An
    // immutable object per entry, so a thread never sees one entry's key with another's offsets.
    private sealed record OffsetsEntry(int Kind, int Stride, int W, nint[] Offsets);
    private OffsetsEntry? _offsets, _otherOffsets;

    /// <summary>Whether any block reads input channel <paramref name="c"/>.</summary>
    internal bool ReadsChannel(int c) => _reads[c];

    // Each tap's shift from an output position in the guarded planes (plane stride, row width w); kept for the last
    // geometry (a session has one; a race computes the same array twice).
    internal nint[] Offsets(int stride, int w) => CachedOffsets(1, stride, w, (column, tap) => column / 9 * stride + (tap / 3 - 1) * w + tap % 3 - 1);

    // The same at stride 2 over CompactTileConv's four phase planes per channel (stride apart, row width ow): tap
    // (ky, kx) reads phase ([ky != 1], [kx != 1]) one row up where ky = 0 and one column left where kx = 0.
    internal nint[] OffsetsStride2(int stride, int ow) => CachedOffsets(2, stride, ow, (column, tap) =>
    {
        int ky = tap / 3, kx = tap % 3;
        int phase = (ky == 1 ? 0 : 2) + (kx == 1 ? 0 : 1);
        return (column / 9 * 4 + phase) * stride - (ky == 0 ? ow : 0) - (kx == 0 ? 1 : 0);
    });

    private nint[] CachedOffsets(int kind, int stride, int w, Func<int, int, int> offset)
    {
        if (_offsets is { } o && o.Kind == kind && o.Stride == stride && o.W == w) return o.Offsets;
        if (_otherOffsets is { } p && p.Kind == kind && p.Stride == stride && p.W == w) return p.Offsets;
        var offsets = new nint[Taps.Length];
        for (int e = 0; e < offsets.Length; e++) offsets[e] = offset(Taps[e], Taps[e] % 9);
        _otherOffsets = _offsets;
        _offsets = new OffsetsEntry(kind, stride, w, offsets);
        return offsets;
    }

    // At stride 2 only the left column shift (kx = 0) is masked: per block, its kx = 0 taps, then all the rest unmasked.
    internal int[] EndsStride2 { get; private set; } = [];

    /// <summary>
    /// The plan of a [outChannels, K] weight whose K columns are <paramref name="columns"/> (null: all
    /// inChannels*9): blocks of consecutive filters, as even as <see cref="PositionTileConv.BlockStarts"/> makes them,
    /// for the Vector512 family's kernel (<paramref name="wide"/>) or the Vector256 one's.
    /// </summary>
    public static TapPlan ForColumns(ReadOnlySpan<float> weight, int outChannels, int inChannels, int[]? columns = null, bool wide = true)
    {
        int k = columns?.Length ?? inChannels * 9;
        var all = new int[k];
        for (int j = 0; j < k; j++) all[j] = columns?[j] ?? j;
        var starts = PositionTileConv.BlockStarts(outChannels, BlockLimit(wide));
        var blocks = new List<(int[] Filters, int[] Columns)>();
        for (int b = 0; b + 1 < starts.Length; b++)
            blocks.Add((Enumerable.Range(starts[b], starts[b + 1] - starts[b]).ToArray(), all));
        var channels = columns is null ? inChannels : columns.Select(c => c / 9).Distinct().Count();
        return Build(weight, outChannels, inChannels, all, blocks, (long)outChannels * channels, (long)outChannels * channels, wide);
    }

    // Filters per block of the family's kernel.
    private static int BlockLimit(bool wide) => wide ? MaxBlock : PositionTileConv256.MaxBlock;

    /// <summary>
    /// The plan of a dense [outChannels, inChannels*9] weight with zero kernel slices: filters that read the same set
    /// of input channels start as one block (at most 8 filters), then the two blocks whose merge saves the most
    /// <see cref="CostShare"/> merge, until no merge saves any: a merged block computes the union of its channel sets
    /// for every filter, and a block under 4 filters costs as 4.
    /// </summary>
    /// <remarks>
    /// The earlier plan sorted the filters by channel set and grew blocks along that order, which pairs neighbours in
    /// the order rather than the filters that overlap most: on the full grid's SNACS cell at 50 % of the MACs (seed 0)
    /// its blocks cost 11.6 against 10.8 for the merge order here, summed over the layers' shares, and the model ran
    /// 1.44x the dense model's speed against 1.37-1.39x (`lopper latency --batch 128 --threads 2`, paired, two rounds).
    /// Counting blocks under 4 filters as 2 (the paired kernel keeps 8 chains at 2 filters) planned smaller blocks
    /// that ran slower (1.32-1.33x). Channel sets are bit sets and each pair's saving is kept between merges: a first
    /// version that recomputed every pair's union per merge took 58 s to plan a 512 x 512 layer with half its slices
    /// zero at random (this one 0.2 s, one thread).
    /// </remarks>
    public static TapPlan ForSlices(ReadOnlySpan<float> weight, int outChannels, int inChannels, bool wide = true)
    {
        int maxBlock = BlockLimit(wide);
        // Each filter's set of input channels with a nonzero slice, as a bit set.
        int k = inChannels * 9, words = (inChannels + 63) / 64;
        var reads = new ulong[outChannels][];
        long keptSlices = 0;
        for (int o = 0; o < outChannels; o++)
        {
            reads[o] = new ulong[words];
            for (int c = 0; c < inChannels; c++)
                if (weight.Slice(o * k + c * 9, 9).IndexOfAnyExcept(0f) >= 0) reads[o][c >> 6] |= 1UL << (c & 63);
            keptSlices += PopCount(reads[o], null);
        }
        // Equal channel sets first (filters in order), in groups of at most maxBlock: `filling` holds, per set met so
        // far, the block its next filter joins.
        var sets = new List<ulong[]>();
        var members = new List<List<int>>();
        var filling = new List<int>();
        for (int o = 0; o < outChannels; o++)
        {
            int f = filling.FindIndex(b => sets[b].AsSpan().SequenceEqual(reads[o]));
            int block = f < 0 ? -1 : filling[f];
            if (block < 0 || members[block].Count == maxBlock)
            {
                block = sets.Count;
                if (f < 0) filling.Add(block); else filling[f] = block;
                sets.Add((ulong[])reads[o].Clone());
                members.Add([]);
            }
            members[block].Add(o);
        }
        // Greedy agglomeration: the pair whose merge saves the most cost (the first such pair in block order), until
        // none saves any. Each pair's saving is kept and only the merged block's are computed again.
        int n = sets.Count;
        var channels = new int[n];
        for (int b = 0; b < n; b++) channels[b] = PopCount(sets[b], null);
        var alive = new bool[n];
        Array.Fill(alive, true);
        var saved = new long[n * n];
        long Saving(int a, int b) => members[a].Count + members[b].Count > maxBlock ? 0
            : Cost(channels[a], members[a].Count) + Cost(channels[b], members[b].Count) - Cost(PopCount(sets[a], sets[b]), members[a].Count + members[b].Count);
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++) saved[a * n + b] = Saving(a, b);
        while (true)
        {
            long best = 0;
            int bi = -1, bj = -1;
            for (int a = 0; a < n; a++)
            {
                if (!alive[a]) continue;
                for (int b = a + 1; b < n; b++)
                    if (alive[b] && saved[a * n + b] > best) (best, bi, bj) = (saved[a * n + b], a, b);
            }
            if (bi < 0) break;
            for (int w = 0; w < words; w++) sets[bi][w] |= sets[bj][w];
            channels[bi] = PopCount(sets[bi], null);
            members[bi].AddRange(members[bj]);
            members[bi].Sort();
            alive[bj] = false;
            for (int other = 0; other < n; other++)
                if (alive[other] && other != bi)
                {
                    int lo = Math.Min(other, bi), hi = Math.Max(other, bi);
                    saved[lo * n + hi] = Saving(lo, hi);
                }
        }
        var order = Enumerable.Range(0, n).Where(b => alive[b]).OrderBy(b => members[b][0]).ToList();
        long computed = 0, cost = 0;
        var packed = new List<(int[] Filters, int[] Columns)>();
        foreach (int b in order)
        {
            computed += (long)members[b].Count * channels[b];
            cost += Cost(channels[b], members[b].Count);
            // A tap that is zero for every filter of the block is left out: a 1x1 weight placed at the centre of a
            // 3x3 one (Conv2dOp's connection-pruned pointwise convolutions) then multiplies one tap per channel.
            var columns = new List<int>();
            for (int c = 0; c < inChannels; c++)
                if ((sets[b][c >> 6] >> (c & 63) & 1) != 0)
                    for (int t = 0; t < 9; t++)
                        foreach (int o in members[b])
                            if (weight[o * k + c * 9 + t] != 0f) { columns.Add(c * 9 + t); break; }
            packed.Add((members[b].ToArray(), columns.ToArray()));
        }
        var plan = Build(weight, outChannels, inChannels, null, packed, computed, keptSlices, wide);
        plan.CostShare = (double)cost / ((long)outChannels * inChannels);
        return plan;
    }

    // Channels in a bit set, or in the union of two.
    private static int PopCount(ulong[] a, ulong[]? b)
    {
        int count = 0;
        for (int w = 0; w < a.Length; w++) count += System.Numerics.BitOperations.PopCount(b is null ? a[w] : a[w] | b[w]);
        return count;
    }

    // Packs the blocks: taps ordered by column shift (kx = 0, 1, 2), weights [tap][filter]. With fromColumns the
    // weight's columns are those; without, the weight is dense [out, inChannels*9].
    private static TapPlan Build(ReadOnlySpan<float> weight, int outChannels, int inChannels, int[]? fromColumns, List<(int[] Filters, int[] Columns)> blocks, long computed, long kept, bool wide)
    {
        int k = fromColumns?.Length ?? inChannels * 9;
        var at = new Dictionary<int, int>();
        if (fromColumns is not null) for (int j = 0; j < k; j++) at[fromColumns[j]] = j;
        var filters = new List<int>();
        var blockStarts = new List<int> { 0 };
        var taps = new List<int>();
        var tapStarts = new List<int> { 0 };
        var ends = new List<int>();
        var weights = new List<float>();
        var weightStarts = new List<int>();
        foreach (var (blockFilters, columns) in blocks)
        {
            filters.AddRange(blockFilters);
            blockStarts.Add(filters.Count);
            weightStarts.Add(weights.Count);
            int first = taps.Count;
            for (int kx = 0; kx < 3; kx++)
            {
                foreach (int column in columns)
                    if (column % 3 == kx)
                    {
                        taps.Add(column);
                        int j = fromColumns is null ? column : at[column];
                        foreach (int o in blockFilters) weights.Add(weight[o * k + j]);
                    }
                ends.Add(taps.Count - first);
            }
            tapStarts.Add(taps.Count);
        }
        return new TapPlan(outChannels, inChannels, filters.ToArray(), blockStarts.ToArray(), taps.ToArray(), tapStarts.ToArray(),
            ends.ToArray(), weights.ToArray(), weightStarts.ToArray(), computed, kept, wide);
    }
}
