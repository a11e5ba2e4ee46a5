using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>
/// min(max(x, min), max); relu6 is clip 0..6. The gradient passes where min &lt; x &lt; max, which is exactly
/// where min &lt; y &lt; max, so backward reads only the output and the input can be freed early.
/// </summary>
public sealed class ClipOp : ElementwiseActivation
{
    /// <summary>Creates the op; a missing bound is infinite, and min must not exceed max.</summary>
    public ClipOp(double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        if (double.IsNaN(min) || double.IsNaN(max) || min > max || double.IsPositiveInfinity(min) || double.IsNegativeInfinity(max))
            throw new LopperInputException($"op clip: needs min <= max, got min {min}, max {max}");
        Min = min;
        Max = max;
    }

    /// <summary>ReLU6 (MobileNetV2): clip to [0, 6].</summary>
    public static ClipOp Relu6() => new(0, 6);

    /// <summary>Lower bound (negative infinity: none).</summary>
    public double Min { get; }
    /// <summary>Upper bound (positive infinity: none).</summary>
    public double Max { get; }

    /// <inheritdoc/>
    public override string Type => "clip";
    /// <inheritdoc/>
    protected override bool SlopeFromOutput => true;

    /// <inheritdoc/>
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => ActivationKernels.AffineClamp(x, 1f, 0f, (float)Min, (float)Max, y);

    /// <inheritdoc/>
    protected override void ApplyBackward(ReadOnlySpan<float> from, Span<float> g) => ActivationKernels.ClampFromOutput(from, (float)Min, (float)Max, 1f, g);

    /// <inheritdoc/>
    public override JsonObject Attributes()
    {
        // JSON has no infinity: an unbounded side is left out.
        var a = new JsonObject();
        if (!double.IsInfinity(Min)) a["min"] = Min;
        if (!double.IsInfinity(Max)) a["max"] = Max;
        return a;
    }

    /// <summary>Reads the op from model.json attributes (min and max optional, unbounded when absent).</summary>
    public static ClipOp FromJson(JsonObject a)
    {
        var r = new OpAttributes(a, "clip");
        var op = new ClipOp(r.Real("min", double.NegativeInfinity, double.MinValue, double.MaxValue), r.Real("max", double.PositiveInfinity, double.MinValue, double.MaxValue));
        r.Done();
        return op;
    }
}
