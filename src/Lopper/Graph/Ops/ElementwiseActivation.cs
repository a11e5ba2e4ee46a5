using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// An elementwise activation: channels pass through, forward and backward run span kernels over slices of the
/// tensor. Its slope is a function of its output (sigmoid and the clamps: backward reads the output and the input can
/// be freed early) or of its input (SiLU, hard-swish and GELU are not monotonic: backward reads the input and the output
/// can be freed early). A derived op gives its type, its two kernels and, where it has any, its attributes.
/// </summary>
public abstract class ElementwiseActivation : Op
{
    /// <summary>True when the slope is read from the output, false when from the input.</summary>
    protected abstract bool SlopeFromOutput { get; }

    /// <summary>y = f(x) over one slice.</summary>
    protected abstract void Apply(ReadOnlySpan<float> x, Span<float> y);

    /// <summary>g = g * f' over one slice, in place, f' read from <paramref name="from"/>: the output or the input (<see cref="SlopeFromOutput"/>).</summary>
    protected abstract void ApplyBackward(ReadOnlySpan<float> from, Span<float> g);

    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);
    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs) => inputs[0];
    /// <inheritdoc/>
    public override bool BackwardReadsInputs => !SlopeFromOutput;
    /// <inheritdoc/>
    public override bool BackwardReadsOutput => SlopeFromOutput;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var y = Tensor.Pooled(inputs[0].Shape);
        float[] x = inputs[0].Data, yd = y.Data;
        Parallelism.ForSlices(y.Length, (s, n) => Apply(x.AsSpan(s, n), yd.AsSpan(s, n)));
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        float[] from = SlopeFromOutput ? output.Data : inputs[0].Data, g = gradOut.Data;
        // In place: the executor owns gradOut and nothing else reads it after this node.
        Parallelism.ForSlices(g.Length, (s, n) => ApplyBackward(from.AsSpan(s, n), g.AsSpan(s, n)));
        return [gradOut];
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new();
}
