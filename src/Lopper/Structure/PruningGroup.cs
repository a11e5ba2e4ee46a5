namespace Lopper.Structure;

/// <summary>
/// One slice of a parameter tied to a channel group: channel c of the group owns indices
/// [Start(c), Start(c) + Width) along <see cref="Axis"/>, where Start(c) is <see cref="Starts"/>[c], or c*Width
/// when <see cref="Starts"/> is null (Width &gt; 1 after a flatten or a depthwise multiplier; explicit starts
/// after a concat, which puts a group at an offset, or a shuffle). A parameter may hold several slices of one
/// group (a tensor concatenated with itself).
/// </summary>
/// <param name="Parameter">Full parameter name, e.g. "layer1.0.conv1.weight".</param>
/// <param name="Node">Index of the node that owns the parameter.</param>
/// <param name="Axis">Axis of the parameter that the group indexes.</param>
/// <param name="Width">Consecutive indices per channel.</param>
/// <param name="Consumes">True when the slice reads the group (a weight's input side), false when it produces or normalises it.</param>
/// <param name="Starts">First index of each channel's block, or null for c*Width.</param>
public sealed record GroupSlice(string Parameter, int Node, int Axis, int Width, bool Consumes, int[]? Starts = null)
{
    /// <summary>First index along <see cref="Axis"/> of channel <paramref name="c"/>'s block.</summary>
    public int Start(int c) => Starts is null ? c * Width : Starts[c];
}

/// <summary>
/// A set of channels that must be pruned together: every producer, normaliser and consumer slice of one
/// channel space, with residual additions, per-channel gates, depthwise convolutions and shuffles merging
/// spaces. Removing channel c removes slice c everywhere.
/// </summary>
public sealed class PruningGroup
{
    /// <summary>Position in <see cref="ChannelGroups.Groups"/>.</summary>
    public int Id { get; init; }

    /// <summary>Number of channels.</summary>
    public int Channels { get; init; }

    /// <summary>Nodes whose op starts this space (convolutions, linear layers).</summary>
    public List<int> Producers { get; } = new();

    /// <summary>Nodes whose output holds channels of this group (producers, everything that passes it through, concats that include it).</summary>
    public List<int> Members { get; } = new();

    /// <summary>All parameter slices tied to the group.</summary>
    public List<GroupSlice> Slices { get; } = new();

    /// <summary>Why the group may not be pruned (network input, classifier output), or null.</summary>
    public string? Locked { get; internal set; }

    /// <summary>True when the group may be pruned.</summary>
    public bool Prunable => Locked is null;

    /// <summary>Readable name: the producers' node names.</summary>
    public string Name { get; internal set; } = "";

    /// <summary>True when an elementwise add ties several producers together (residual coupling).</summary>
    public bool Coupled => Producers.Count > 1;
}
