using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>The network input placeholder: per-sample shape (C, H, W).</summary>
public sealed class InputOp(int[] shape) : Op
{
    /// <summary>Per-sample shape.</summary>
    public int[] Shape { get; } = shape;

    /// <inheritdoc/>
    public override string Type => "input";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => throw new ArgumentOutOfRangeException(nameof(input), "the input op has no inputs");
    /// <inheritdoc/>
    public override int Arity => 0;
    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs) => [1, .. Shape];
    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state) => throw new InvalidOperationException("the input node is not executed");
    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state) => [];
    /// <inheritdoc/>
    public override JsonObject Attributes() => new() { ["shape"] = new JsonArray(Shape.Select(d => (JsonNode)d).ToArray()) };

    /// <summary>Reads the op from model.json attributes.</summary>
    public static InputOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "input");
        var op = new InputOp(a.Ints("shape", true, 1, OpAttributes.MaxSize)!);
        a.Done();
        return op;
    }
}
