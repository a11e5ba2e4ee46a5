using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>
/// x * relu6(x + 3) / 6 (MobileNetV3). The function is not monotonic on [-3, -1.5], so its output does not
/// determine its slope: backward reads the input and the output can be freed early.
/// </summary>
public sealed class HardSwishOp : Op
{
    /// <inheritdoc/>
    public override string Type => "hardswish";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);
    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs) => inputs[0];
    /// <inheritdoc/>
    public override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var y = Tensor.Pooled(inputs[0].Shape);
        float[] x = inputs[0].Data, yd = y.Data;
        Parallelism.ForSlices(y.Length, (s, n) => ActivationKernels.HardSwish(x.AsSpan(s, n), yd.AsSpan(s, n)));
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        float[] x = inputs[0].Data, g = gradOut.Data;
        // In place: the executor owns gradOut and nothing else reads it after this node.
        Parallelism.ForSlices(g.Length, (s, n) => ActivationKernels.HardSwishBackward(x.AsSpan(s, n), g.AsSpan(s, n)));
        return [gradOut];
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new();

    /// <summary>Reads the op from model.json attributes (it takes none).</summary>
    public static HardSwishOp FromJson(JsonObject a)
    {
        OpAttributes.None(a, "hardswish");
        return new HardSwishOp();
    }
}
