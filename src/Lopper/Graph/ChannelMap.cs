namespace Lopper.Graph;

/// <summary>The shape of a <see cref="ChannelMap"/>: what it means, for readers that look for a pattern (residual joins, gate chains).</summary>
public enum ChannelMapKind
{
    /// <summary>The output starts a new channel space; this input's channels are read through weights (conv, linear).</summary>
    Produces,
    /// <summary>Output channel j is input channel j (batch-norm, activations, pooling, dropout).</summary>
    PassThrough,
    /// <summary>Output channel j is channel j of every input: all share one space (elementwise add).</summary>
    Tied,
    /// <summary>A per-channel factor [N,C,1,1] whose channel j scales output channel j (squeeze-and-excitation gate).</summary>
    Broadcast,
    /// <summary>The input occupies output channels [offset, offset + C) (channel concatenation).</summary>
    ConcatOffset,
    /// <summary>Output channel k reads input channel k / multiplier (depthwise convolution).</summary>
    GroupCoupled,
    /// <summary>Output channel j is input channel source[j], with sets of input channels that must go together (channel shuffle).</summary>
    Permutation,
    /// <summary>Output feature f comes from input channel f / (H*W) (flatten).</summary>
    Flatten,
    /// <summary>The mapping is known but no channel of this input or of the output may be removed (grouped convolution).</summary>
    Locked,
    /// <summary>The mapping is unknown: a graph containing the op cannot be pruned.</summary>
    Opaque,
}

/// <summary>
/// How one input's channel indices relate to the op's output channel indices (channel = index along
/// dimension 1; features for [N, F] tensors). The dependency analysis reads only <see cref="Source"/> and
/// <see cref="Coupled"/> (and <see cref="Reason"/> for locked and opaque maps), never the op type, so a new op
/// declares its map in its own file and pruning follows it. Build one with the static factories.
/// </summary>
public sealed class ChannelMap
{
    private ChannelMap(ChannelMapKind kind, int[]? source, int[][]? coupled, string? reason)
    {
        Kind = kind;
        Source = source;
        Coupled = coupled;
        Reason = reason;
    }

    /// <summary>What the map means.</summary>
    public ChannelMapKind Kind { get; }

    /// <summary>For each output channel, the input channel it is (or comes from), or -1 when it does not come from this input; null for none.</summary>
    public int[]? Source { get; }

    /// <summary>Sets of input channels that can only be removed together (so the op stays well-formed after pruning), or null.</summary>
    public int[][]? Coupled { get; }

    /// <summary>Why a <see cref="ChannelMapKind.Locked"/> or <see cref="ChannelMapKind.Opaque"/> map refuses pruning.</summary>
    public string? Reason { get; }

    private static int[] Range(int n, Func<int, int> f)
    {
        var s = new int[n];
        for (int j = 0; j < n; j++) s[j] = f(j);
        return s;
    }

    /// <summary>The output is a new channel space, unrelated index by index to this input.</summary>
    public static ChannelMap Produces { get; } = new(ChannelMapKind.Produces, null, null, null);

    /// <summary>Output channel j is input channel j, for <paramref name="channels"/> channels.</summary>
    public static ChannelMap PassThrough(int channels) => new(ChannelMapKind.PassThrough, Range(channels, j => j), null, null);

    /// <summary>Output channel j is this input's channel j, and so every other tied input's channel j.</summary>
    public static ChannelMap Tied(int channels) => new(ChannelMapKind.Tied, Range(channels, j => j), null, null);

    /// <summary>This input is a per-channel factor: its channel j scales output channel j, tying them.</summary>
    public static ChannelMap Broadcast(int channels) => new(ChannelMapKind.Broadcast, Range(channels, j => j), null, null);

    /// <summary>The input's <paramref name="channels"/> channels are output channels [offset, offset + channels) of <paramref name="outChannels"/>.</summary>
    public static ChannelMap ConcatOffset(int offset, int channels, int outChannels)
        => new(ChannelMapKind.ConcatOffset, Range(outChannels, j => j >= offset && j < offset + channels ? j - offset : -1), null, null);

    /// <summary>Output channel k reads input channel k / <paramref name="multiplier"/> (depthwise: the k's of one input channel go with it).</summary>
    public static ChannelMap GroupCoupled(int inChannels, int multiplier)
        => new(ChannelMapKind.GroupCoupled, Range(inChannels * multiplier, k => k / multiplier), null, null);

    /// <summary>Output channel j is input channel <paramref name="source"/>[j]; each set in <paramref name="coupled"/> is removed as one.</summary>
    public static ChannelMap Permutation(int[] source, int[][] coupled) => new(ChannelMapKind.Permutation, source, coupled, null);

    /// <summary>Output feature f comes from input channel f / <paramref name="spatial"/>.</summary>
    public static ChannelMap Flatten(int channels, int spatial) => new(ChannelMapKind.Flatten, Range(channels * spatial, f => f / spatial), null, null);

    /// <summary>Neither this input's channels nor the output's may be removed; <paramref name="reason"/> says why.</summary>
    public static ChannelMap Locked(string reason) => new(ChannelMapKind.Locked, null, null, reason);

    /// <summary>The op cannot say how channels map: pruning refuses the graph, quoting <paramref name="reason"/>.</summary>
    public static ChannelMap Opaque(string reason) => new(ChannelMapKind.Opaque, null, null, reason);
}
