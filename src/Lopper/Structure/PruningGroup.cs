namespace Lopper.Structure;

/// <summary>
/// One slice of a parameter tied to a channel group: channel c of the group owns indices
/// [c*Width, (c+1)*Width) along <see cref="Axis"/> (Width &gt; 1 after a flatten).
/// </summary>
/// <param name="Parameter">Full parameter name, e.g. "layer1.0.conv1.weight".</param>
/// <param name="Node">Index of the node that owns the parameter.</param>
/// <param name="Axis">Axis of the parameter that the group indexes.</param>
/// <param name="Width">Consecutive indices per channel.</param>
/// <param name="Consumes">True when the slice reads the group (a weight's input side), false when it produces or normalises it.</param>
public sealed record GroupSlice(string Parameter, int Node, int Axis, int Width, bool Consumes);

/// <summary>
/// A set of channels that must be pruned together: every producer, normaliser and consumer slice of one
/// channel space, with residual additions merging spaces. Removing channel c removes slice c everywhere.
/// </summary>
public sealed class PruningGroup
{
    /// <summary>Position in <see cref="ChannelGroups.Groups"/>.</summary>
    public int Id { get; init; }

    /// <summary>Number of channels.</summary>
    public int Channels { get; init; }

    /// <summary>Nodes whose op starts this space (convolutions, linear layers).</summary>
    public List<int> Producers { get; } = new();

    /// <summary>Nodes whose output lies in this space (producers and everything that passes it through).</summary>
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
