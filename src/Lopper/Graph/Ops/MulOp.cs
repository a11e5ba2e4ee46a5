using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// Elementwise product of two inputs. The second is either shaped like the first or [N, C, 1, 1], a per-channel
/// factor broadcast over the plane: the gate of squeeze-and-excitation. Either way channel j of the factor scales
/// channel j of the first input, so the map ties the factor's channels (and so the filters of the layer that
/// computes it) to the gated tensor's.
/// </summary>
public sealed class MulOp : Op
{
    /// <inheritdoc/>
    public override string Type => "mul";
    /// <inheritdoc/>
    public override int Arity => 2;

    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs)
        => input == 0 ? ChannelMap.PassThrough(inputs[0][1]) : ChannelMap.Broadcast(inputs[0][1]);

    private static bool IsBroadcast(int[] a, int[] b) => b.Length == a.Length && a.Length >= 3 && b[0] == a[0] && b[1] == a[1] && Tensor.Numel(b.AsSpan(2)) == 1;

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        int[] a = inputs[0], b = inputs[1];
        if (a.Length < 2) throw ShapeError($"expects [N,C,...], got {Tensor.Format(a)}");
        if (!a.AsSpan().SequenceEqual(b) && !IsBroadcast(a, b))
            throw ShapeError($"second input must match the first {Tensor.Format(a)} or be [N,C,1,1], got {Tensor.Format(b)}");
        return a;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        Tensor a = inputs[0], b = inputs[1];
        OutputShape([a.Shape, b.Shape]);
        var y = Tensor.Pooled(a.Shape);
        if (b.Length == a.Length)
        {
            TensorPrimitives.Multiply(a.Span, b.Span, y.Span);
            return y;
        }
        int plane = a.Length / b.Length;
        for (int c = 0; c < b.Length; c++)
            TensorPrimitives.Multiply(a.Span.Slice(c * plane, plane), b.Data[c], y.Span.Slice(c * plane, plane));
        return y;
    }

    /// <inheritdoc/>
    public override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        Tensor a = inputs[0], b = inputs[1];
        Tensor? da = null, db = null;
        bool full = b.Length == a.Length;
        int plane = a.Length / b.Length;
        if (state.NeedsInputGrad[1])
        {
            db = Tensor.Pooled(b.Shape);
            if (full) TensorPrimitives.Multiply(gradOut.Span, a.Span, db.Span);
            else
                for (int c = 0; c < b.Length; c++)
                    db.Data[c] = TensorPrimitives.Dot(gradOut.Span.Slice(c * plane, plane), a.Span.Slice(c * plane, plane));
        }
        if (state.NeedsInputGrad[0])
        {
            da = Tensor.Pooled(a.Shape);
            if (full) TensorPrimitives.Multiply(gradOut.Span, b.Span, da.Span);
            else
                for (int c = 0; c < b.Length; c++)
                    TensorPrimitives.Multiply(gradOut.Span.Slice(c * plane, plane), b.Data[c], da.Span.Slice(c * plane, plane));
        }
        return [da, db];
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new();

    /// <summary>Reads the op from model.json attributes (it takes none).</summary>
    public static MulOp FromJson(JsonObject json)
    {
        OpAttributes.None(json, "mul");
        return new MulOp();
    }
}
