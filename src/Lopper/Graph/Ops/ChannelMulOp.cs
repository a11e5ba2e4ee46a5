using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// Multiplies each channel by its own factor: y[n,c,...] = x[n,c,...] * scale[c]. Used for gates and
/// masks. With <c>trainable</c> false the scale is a fixed buffer (a mask) and gets no gradient.
/// </summary>
public sealed class ChannelMulOp(int channels, bool trainable = true) : Op
{
    /// <summary>Channels.</summary>
    public int Channels { get; } = channels;
    /// <summary>Whether the scale is learned.</summary>
    public bool Trainable { get; } = trainable;

    /// <inheritdoc/>
    public override string Type => "channelmul";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        if (s.Length < 2 || s[1] != Channels) throw ShapeError($"expects [N,{Channels},...], got {Tensor.Format(s)}");
        return s;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<ParamSpec> Parameters(IReadOnlyList<int[]> inputs) => [new("scale", [Channels], ParamInit.Ones, Trainable, 0, -1)];

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var y = Tensor.Pooled(x.Shape);
        int n = x.Shape[0], plane = x.Length / (n * Channels);
        var s = parameters[0].Data;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < Channels; c++)
            {
                int off = (i * Channels + c) * plane;
                TensorPrimitives.Multiply(x.Span.Slice(off, plane), s[c], y.Span.Slice(off, plane));
            }
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        var x = inputs[0];
        int n = x.Shape[0], plane = x.Length / (n * Channels);
        var s = parameters[0].Data;
        if (paramGrads[0] is { } ds)
        {
            ds.Span.Clear();
            for (int i = 0; i < n; i++)
                for (int c = 0; c < Channels; c++)
                {
                    int off = (i * Channels + c) * plane;
                    ds.Data[c] += TensorPrimitives.Dot(gradOut.Span.Slice(off, plane), x.Span.Slice(off, plane));
                }
        }
        if (!state.NeedsInputGrad[0]) return [null];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < Channels; c++)
            {
                int off = (i * Channels + c) * plane;
                TensorPrimitives.Multiply(gradOut.Span.Slice(off, plane), s[c], gradOut.Span.Slice(off, plane));
            }
        return [gradOut];
    }

    /// <inheritdoc/>
    public override Op Resized(int[] inChannels, int outChannels) => new ChannelMulOp(inChannels[0], Trainable);

    /// <inheritdoc/>
    public override JsonObject Attributes() => new() { ["channels"] = Channels, ["trainable"] = Trainable };

    /// <summary>Reads the op from model.json attributes.</summary>
    public static ChannelMulOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "channelmul");
        var op = new ChannelMulOp(a.Int("channels", 1, OpAttributes.MaxSize), a.Bool("trainable", true));
        a.Done();
        return op;
    }
}
