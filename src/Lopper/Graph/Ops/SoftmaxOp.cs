using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// Softmax over the last axis (the class axis of an [N, K] output; W of a 4-d tensor, which keeps channels
/// pass-through). Meant for a model's output, as exported classifiers end: training losses that apply their
/// own softmax want the logits before it. Backward needs only the output: dx = y * (dy - sum(dy * y)).
/// </summary>
public sealed class SoftmaxOp : Op
{
    /// <inheritdoc/>
    public override string Type => "softmax";
    /// <inheritdoc/>
    // Every output depends on every class score, so removing one would change the others: no channel may go.
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.Locked("softmax normalises over all its channels");
    /// <inheritdoc/>
    public override bool BackwardReadsInputs => false;

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        if (s.Length < 2) throw ShapeError($"expects at least [N, K], got {Tensor.Format(s)}");
        return s;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var y = Tensor.Pooled(x.Shape);
        float[] xd = x.Data, yd = y.Data;
        int k = x.Shape[^1];
        ForRows(x.Length / k, k, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var xs = xd.AsSpan(r * k, k);
                var ys = yd.AsSpan(r * k, k);
                // Shifted by the row maximum so exp cannot overflow.
                TensorPrimitives.Subtract(xs, TensorPrimitives.Max(xs), ys);
                TensorPrimitives.Exp(ys, ys);
                TensorPrimitives.Multiply(ys, 1f / TensorPrimitives.Sum(ys), ys);
            }
        });
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        float[] yd = output.Data, g = gradOut.Data;
        int k = output.Shape[^1];
        // In place: the executor owns gradOut and nothing else reads it after this node.
        ForRows(g.Length / k, k, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var ys = yd.AsSpan(r * k, k);
                var gs = g.AsSpan(r * k, k);
                TensorPrimitives.Subtract(gs, TensorPrimitives.Dot(gs, ys), gs);
                TensorPrimitives.Multiply(gs, ys, gs);
            }
        });
        return [gradOut];
    }

    // Rows split over threads in contiguous runs; small outputs (a batch of logits) run inline.
    private static void ForRows(int rows, int k, Action<int, int> body)
    {
        int chunks = (long)rows * k >= 1 << 15 ? Math.Min(Parallelism.Threads, rows) : 1;
        if (chunks <= 1) { body(0, rows); return; }
        Parallelism.For(chunks, c => body((int)((long)rows * c / chunks), (int)((long)rows * (c + 1) / chunks)));
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new();

    /// <summary>Reads the op from model.json attributes (it takes none).</summary>
    public static SoftmaxOp FromJson(JsonObject a)
    {
        OpAttributes.None(a, "softmax");
        return new SoftmaxOp();
    }
}
