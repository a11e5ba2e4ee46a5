using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>max(x, 0). Backward reads the output, so the input can be freed early.</summary>
public sealed class ReluOp : Op
{
    /// <inheritdoc/>
    public override string Type => "relu";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);
    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs) => inputs[0];

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var y = Tensor.Pooled(inputs[0].Shape);
        float[] x = inputs[0].Data, yd = y.Data;
        Parallelism.ForSlices(y.Length, (s, n) => TensorPrimitives.Max(x.AsSpan(s, n), 0f, yd.AsSpan(s, n)));
        return y;
    }

    /// <inheritdoc/>
    public override bool BackwardReadsInputs => false;

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        // Written in place: the executor owns gradOut and nothing else reads it after this node.
        Simd.ParallelReluBackward(output, gradOut);
        return [gradOut];
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new();
}
