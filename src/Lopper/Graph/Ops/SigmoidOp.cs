using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>1 / (1 + exp(-x)). Backward needs only the output (dy * y * (1 - y)), so the input can be freed early.</summary>
public sealed class SigmoidOp : Op
{
    /// <inheritdoc/>
    public override string Type => "sigmoid";
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
        Parallelism.ForSlices(y.Length, (s, n) => TensorPrimitives.Sigmoid(x.AsSpan(s, n), yd.AsSpan(s, n)));
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        float[] y = output.Data, g = gradOut.Data;
        // In place: the executor owns gradOut and nothing else reads it after this node.
        Parallelism.ForSlices(g.Length, (s, n) => ActivationKernels.SigmoidFromOutput(y.AsSpan(s, n), g.AsSpan(s, n)));
        return [gradOut];
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new();

    /// <summary>Reads the op from model.json attributes (it takes none).</summary>
    public static SigmoidOp FromJson(JsonObject a)
    {
        OpAttributes.None(a, "sigmoid");
        return new SigmoidOp();
    }
}
