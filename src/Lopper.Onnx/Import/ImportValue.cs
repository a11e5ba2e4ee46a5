using Lopper.Tensors;

namespace Lopper.Onnx.Import;

/// <summary>
/// What an ONNX value name stands for during import: a feature map computed by a Lopper node, or a
/// constant known at import time (weights, and the shape arithmetic exporters emit, folded as it is read).
/// </summary>
public sealed class ImportValue
{
    /// <summary>Marks the batch dimension inside a folded shape constant: it is only known at run time.</summary>
    public const long BatchDim = long.MinValue;

    /// <summary>The Lopper node computing this value (null for a constant).</summary>
    public string? Node { get; private init; }
    /// <summary>Shape of the feature map with batch 1.</summary>
    public int[] Shape { get; private init; } = [];
    /// <summary>Spatial padding still to be applied by the reader ([top, left, bottom, right]), from a folded Pad.</summary>
    public int[]? Pads { get; private init; }
    /// <summary>Value a pending <see cref="Pads"/> fills with.</summary>
    public float PadValue { get; private init; }
    /// <summary>A float constant.</summary>
    public Tensor? Float { get; private init; }
    /// <summary>An integer constant's values (row-major; <see cref="BatchDim"/> stands for the run-time batch size).</summary>
    public long[]? Ints { get; private init; }
    /// <summary>An integer constant's dims.</summary>
    public int[] IntDims { get; private init; } = [];

    /// <summary>
    /// A channel shuffle under way: the [N, C, H, W] feature map <see cref="ShuffleOf"/> reshaped to
    /// [N, groups, C/groups, H, W] (not yet swapped) or transposed to [N, C/groups, groups, H, W] (swapped).
    /// Only the next step of the Reshape-Transpose-Reshape pattern may read it.
    /// </summary>
    public ImportValue? ShuffleOf { get; private init; }
    /// <summary>Groups of the shuffle under way.</summary>
    public int ShuffleGroups { get; private init; }
    /// <summary>True once the group axes are transposed.</summary>
    public bool ShuffleSwapped { get; private init; }

    /// <summary>A step of a channel shuffle of <paramref name="source"/> (see <see cref="ShuffleOf"/>).</summary>
    public static ImportValue Shuffle(ImportValue source, int groups, bool swapped)
    {
        int c = source.Shape[1];
        int[] shape = swapped ? [source.Shape[0], c / groups, groups, .. source.Shape[2..]] : [source.Shape[0], groups, c / groups, .. source.Shape[2..]];
        return new() { Node = source.Node, Shape = shape, ShuffleOf = source, ShuffleGroups = groups, ShuffleSwapped = swapped };
    }

    /// <summary>True for a feature map (a node's output).</summary>
    public bool IsGraph => Node is not null;

    /// <summary>A node's output.</summary>
    public static ImportValue Graph(string node, int[] shape) => new() { Node = node, Shape = shape };

    /// <summary>This value with extra spatial padding pending (added to any already pending).</summary>
    public ImportValue Padded(int[] pads, float value)
    {
        var p = Pads is null ? pads : [Pads[0] + pads[0], Pads[1] + pads[1], Pads[2] + pads[2], Pads[3] + pads[3]];
        return new() { Node = Node, Shape = Shape, Pads = p, PadValue = value };
    }

    /// <summary>A float constant.</summary>
    public static ImportValue Constant(Tensor t) => new() { Float = t };

    /// <summary>An integer constant.</summary>
    public static ImportValue Constant(long[] values, int[] dims) => new() { Ints = values, IntDims = dims };
}
