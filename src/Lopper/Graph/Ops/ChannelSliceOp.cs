using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// Channels [start, start + channels) of the input (ShuffleNetV2's channel split, ONNX Split/Slice on axis 1).
/// </summary>
/// <remarks>
/// Its channel map is locked: after pruning, the slice's new start would depend on which channels below it
/// survive, which a resize given only channel counts cannot know. So the sliced tensor and the slice keep all
/// their channels, and pruning works on the channels inside the branches (as ShuffleNetV2's inner 1x1 and
/// depthwise convolutions).
/// </remarks>
public sealed class ChannelSliceOp : Op
{
    /// <summary>Slices <paramref name="channels"/> channels starting at <paramref name="start"/>.</summary>
    public ChannelSliceOp(int start, int channels)
    {
        if (start < 0 || channels < 1) throw new LopperInputException($"op channel_slice: needs start >= 0 and channels >= 1, got start {start}, channels {channels}");
        Start = start;
        Channels = channels;
    }

    /// <summary>First input channel kept.</summary>
    public int Start { get; }
    /// <summary>Number of channels kept.</summary>
    public int Channels { get; }

    /// <inheritdoc/>
    public override string Type => "channel_slice";
    /// <inheritdoc/>
    public override bool BackwardReadsInputs => false;
    /// <inheritdoc/>
    public override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs)
        => ChannelMap.Locked($"channel_slice takes channels [{Start}, {Start + Channels}) by position");

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        if (s.Length < 2) throw ShapeError($"expects [N,C,...], got {Tensor.Format(s)}");
        if ((long)Start + Channels > s[1]) throw ShapeError($"channels [{Start}, {Start + Channels}) exceed the input's {s[1]}");
        var y = (int[])s.Clone();
        y[1] = Channels;
        return y;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var y = Tensor.Pooled(OutputShape([x.Shape]));
        int n = x.Shape[0], inBlock = x.Length / n, outBlock = y.Length / n, plane = outBlock / Channels;
        for (int i = 0; i < n; i++) x.Span.Slice(i * inBlock + Start * plane, outBlock).CopyTo(y.Span.Slice(i * outBlock, outBlock));
        // Backward does not read the input (the executor may free it), only its shape.
        if (state.WillBackward) state.Saved = x.Shape;
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        var dx = Tensor.Pooled((int[])state.Saved!);
        dx.Span.Clear();
        int n = dx.Shape[0], inBlock = dx.Length / n, outBlock = gradOut.Length / n, plane = outBlock / Channels;
        for (int i = 0; i < n; i++) gradOut.Span.Slice(i * outBlock, outBlock).CopyTo(dx.Span.Slice(i * inBlock + Start * plane, outBlock));
        return [dx];
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new() { ["start"] = Start, ["channels"] = Channels };

    /// <summary>Reads the op from model.json attributes.</summary>
    public static ChannelSliceOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "channel_slice");
        var op = new ChannelSliceOp(a.Int("start", 0, OpAttributes.MaxSize), a.Int("channels", 1, OpAttributes.MaxSize));
        a.Done();
        return op;
    }
}
