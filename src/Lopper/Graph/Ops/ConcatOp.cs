using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// Concatenation of two or more inputs along the channel axis (dimension 1); the other dimensions must agree.
/// Input i becomes output channels [offset_i, offset_i + C_i), which is its whole channel map: pruning a channel
/// of an input removes it from the concatenation too.
/// </summary>
public sealed class ConcatOp : Op
{
    /// <inheritdoc/>
    public override string Type => "concat";
    /// <inheritdoc/>
    public override int Arity => -1;
    /// <inheritdoc/>
    public override bool BackwardReadsInputs => false;
    /// <inheritdoc/>
    public override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs)
    {
        int offset = 0, total = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            if (i < input) offset += inputs[i][1];
            total += inputs[i][1];
        }
        return ChannelMap.ConcatOffset(offset, inputs[input][1], total);
    }

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var first = inputs[0];
        if (first.Length < 2) throw ShapeError($"expects [N,C,...] inputs, got {Tensor.Format(first)}");
        int channels = 0;
        foreach (var s in inputs)
        {
            if (s.Length != first.Length || s[0] != first[0] || !s.AsSpan(2).SequenceEqual(first.AsSpan(2)))
                throw ShapeError($"inputs differ outside the channel axis: {Tensor.Format(first)} vs {Tensor.Format(s)}");
            channels += s[1];
        }
        var y = (int[])first.Clone();
        y[1] = channels;
        return y;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        // Shapes were checked when the graph was built: only the channel count changes.
        var shape = (int[])inputs[0].Shape.Clone();
        for (int k = 1; k < inputs.Length; k++) shape[1] += inputs[k].Shape[1];
        var y = Tensor.Pooled(shape);
        int n = shape[0], outBlock = y.Length / n, offset = 0;
        foreach (var x in inputs)
        {
            int block = x.Length / n;
            for (int i = 0; i < n; i++) x.Span.Slice(i * block, block).CopyTo(y.Span.Slice(i * outBlock + offset, block));
            offset += block;
        }
        // Backward does not read the inputs (the executor may free them), only their shapes.
        if (state.WillBackward)
        {
            var shapes = new int[inputs.Length][];
            for (int k = 0; k < shapes.Length; k++) shapes[k] = inputs[k].Shape;
            state.Saved = shapes;
        }
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        var shapes = (int[][])state.Saved!;
        var grads = new Tensor?[shapes.Length];
        int n = gradOut.Shape[0], outBlock = gradOut.Length / n, offset = 0;
        for (int k = 0; k < shapes.Length; k++)
        {
            int block = Tensor.Numel(shapes[k].AsSpan(1));
            if (state.NeedsInputGrad[k])
            {
                var g = Tensor.Pooled(shapes[k]);
                for (int i = 0; i < n; i++) gradOut.Span.Slice(i * outBlock + offset, block).CopyTo(g.Span.Slice(i * block, block));
                grads[k] = g;
            }
            offset += block;
        }
        return grads;
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new();

    /// <summary>Reads the op from model.json attributes (it takes none: the axis is always the channels).</summary>
    public static ConcatOp FromJson(JsonObject json)
    {
        OpAttributes.None(json, "concat");
        return new ConcatOp();
    }
}
