using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>
/// min(max(x, min), max); relu6 is clip 0..6. The gradient passes where min &lt; x &lt; max, which is exactly
/// where min &lt; y &lt; max, so backward reads only the output and the input can be freed early.
/// </summary>
public sealed class ClipOp : Op
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
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);
    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs) => inputs[0];
    /// <inheritdoc/>
    public override bool BackwardReadsInputs => false;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var y = Tensor.Pooled(inputs[0].Shape);
        float[] x = inputs[0].Data, yd = y.Data;
        float lo = (float)Min, hi = (float)Max;
        Parallelism.ForSlices(y.Length, (s, n) => ActivationKernels.AffineClamp(x.AsSpan(s, n), 1f, 0f, lo, hi, yd.AsSpan(s, n)));
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        float[] y = output.Data, g = gradOut.Data;
        float lo = (float)Min, hi = (float)Max;
        // In place: the executor owns gradOut and nothing else reads it after this node.
        Parallelism.ForSlices(g.Length, (s, n) => ActivationKernels.ClampFromOutput(y.AsSpan(s, n), lo, hi, 1f, g.AsSpan(s, n)));
        return [gradOut];
    }

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
