using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>Mean over H and W: [N,C,H,W] to [N,C,1,1].</summary>
public sealed class GlobalAvgPoolOp : Op
{
    /// <inheritdoc/>
    public override string Type => "globalavgpool";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        if (s.Length != 4) throw ShapeError($"expects [N,C,H,W], got {Tensor.Format(s)}");
        return [s[0], s[1], 1, 1];
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var y = Tensor.Pooled([x.Shape[0], x.Shape[1], 1, 1]);
        int planes = x.Shape[0] * x.Shape[1], hw = x.Shape[2] * x.Shape[3];
        for (int p = 0; p < planes; p++) y.Data[p] = TensorPrimitives.Sum(x.Data.AsSpan(p * hw, hw)) / hw;
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        var x = inputs[0];
        var dx = Tensor.Pooled(x.Shape);
        int planes = x.Shape[0] * x.Shape[1], hw = x.Shape[2] * x.Shape[3];
        for (int p = 0; p < planes; p++) dx.Data.AsSpan(p * hw, hw).Fill(gradOut.Data[p] / hw);
        return [dx];
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new();
}
