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

    /// <summary>
    /// True for the channels-last view [N, H, W, C] of the feature map <see cref="Node"/> computes (after a Transpose
    /// [0, 2, 3, 1]); <see cref="Shape"/> stays the node's [N, C, H, W]. Only LayerNorm, MatMul + Add over the channels,
    /// GELU and the Transpose back may read it.
    /// </summary>
    public bool ChannelsLast { get; private init; }
    /// <summary>Where this value stands in a multi-node pattern Lopper reads as one layer (LayerNorm's decomposition, the erf GELU).</summary>
    public ImportPattern Pattern { get; private init; }
    /// <summary>The feature map the pattern under way started from.</summary>
    public ImportValue? PatternOf { get; private init; }
    /// <summary>The epsilon a LayerNorm pattern adds to the variance.</summary>
    public double PatternEps { get; private init; }

    /// <summary>True for a pattern step that is no feature map of its own (a mean, a variance, erf(x / sqrt 2), ...).</summary>
    public bool IsIntermediate => Pattern is not (ImportPattern.None or ImportPattern.LnNormalized or ImportPattern.LnScaled or ImportPattern.LinearNoBias);

    /// <summary>The feature map of <paramref name="source"/> seen in a layout and at a pattern stage.</summary>
    public static ImportValue View(ImportValue source, bool channelsLast, ImportPattern pattern = ImportPattern.None, ImportValue? of = null, double eps = 0)
        => new() { Node = source.Node, Shape = source.Shape, ChannelsLast = channelsLast, Pattern = pattern, PatternOf = of, PatternEps = eps };

    /// <summary>True when <paramref name="a"/> and <paramref name="b"/> are the same feature map in the same layout.</summary>
    public static bool Same(ImportValue? a, ImportValue? b) => a is not null && b is not null && a.Node == b.Node && a.ChannelsLast == b.ChannelsLast;

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

/// <summary>Stages of the multi-node patterns the importer reads as one Lopper layer.</summary>
public enum ImportPattern
{
    /// <summary>A plain value.</summary>
    None,
    /// <summary>mean(x) over the channels.</summary>
    LnMean,
    /// <summary>x - mean(x).</summary>
    LnCentered,
    /// <summary>(x - mean(x))^2.</summary>
    LnSquared,
    /// <summary>The mean of the squares: the variance.</summary>
    LnVariance,
    /// <summary>The variance plus epsilon.</summary>
    LnVarianceEps,
    /// <summary>sqrt(variance + epsilon).</summary>
    LnStd,
    /// <summary>A layernorm2d output whose weight and bias are still the identity (a following Mul and Add become them).</summary>
    LnNormalized,
    /// <summary>A layernorm2d output whose weight is set and whose bias is still zero.</summary>
    LnScaled,
    /// <summary>A bias-free 1x1 convolution made from a MatMul over the channels (a following Add becomes its bias).</summary>
    LinearNoBias,
    /// <summary>x / sqrt(2).</summary>
    GeluScaled,
    /// <summary>erf(x / sqrt(2)).</summary>
    GeluErf,
    /// <summary>1 + erf(x / sqrt(2)).</summary>
    GeluErfPlusOne,
    /// <summary>x * (1 + erf(x / sqrt(2))).</summary>
    GeluProduct,
}
