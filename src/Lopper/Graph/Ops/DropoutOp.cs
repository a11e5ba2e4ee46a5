using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>Inverted dropout: in training zeroes each value with probability p and scales survivors by 1/(1-p).</summary>
public sealed class DropoutOp(double p) : Op
{
    /// <summary>Drop probability.</summary>
    public double P { get; } = p is >= 0 and < 1 ? p : throw new LopperInputException($"dropout p must be in [0, 1), got {p}");

    /// <inheritdoc/>
    public override string Type => "dropout";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);
    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs) => inputs[0];

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var y = Tensor.Pooled(x.Shape);
        if (!state.Training || P == 0)
        {
            x.Span.CopyTo(y.Span);
            state.Saved = null;
            return y;
        }
        var rng = state.Random ?? throw new InvalidOperationException("dropout in training needs a random stream");
        var mask = Tensor.Pooled(x.Shape);
        float keep = (float)(1 - P), scale = 1f / keep;
        var m = mask.Span;
        for (int i = 0; i < m.Length; i++) m[i] = rng.NextFloat() < keep ? scale : 0f;
        TensorPrimitives.Multiply(x.Span, m, y.Span);
        if (state.WillBackward) state.Saved = state.Keep(mask);
        else mask.Release();
        return y;
    }

    /// <inheritdoc/>
    public override bool BackwardReadsInputs => false;

    /// <inheritdoc/>
    public override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        if (state.Saved is Tensor mask) TensorPrimitives.Multiply(gradOut.Span, mask.Span, gradOut.Span);
        return [gradOut];
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new() { ["p"] = P };

    /// <summary>Reads the op from model.json attributes.</summary>
    public static DropoutOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "dropout");
        var op = new DropoutOp(a.Real("p", 0.5, 0, 1, maxExclusive: true));
        a.Done();
        return op;
    }
}
