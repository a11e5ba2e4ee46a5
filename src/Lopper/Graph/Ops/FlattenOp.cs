using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>[N, C, H, W] to [N, C*H*W] without copying: feature f comes from channel f / (H*W).</summary>
public sealed class FlattenOp : Op
{
    /// <inheritdoc/>
    public override string Type => "flatten";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.Flatten(inputs[0][1], Tensor.Numel(inputs[0].AsSpan(2)));
    /// <inheritdoc/>
    public override bool OutputAliasesInput => true;

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        return [s[0], Tensor.Numel(s.AsSpan(1))];
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
        => new(OutputShape([inputs[0].Shape]), inputs[0].Data);

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
        => [state.NeedsInputGrad[0] ? new Tensor(inputs[0].Shape, gradOut.Data) : null];

    /// <inheritdoc/>
    public override JsonObject Attributes() => new();
}
