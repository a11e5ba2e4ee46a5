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
