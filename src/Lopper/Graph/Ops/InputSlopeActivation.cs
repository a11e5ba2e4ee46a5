using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// An elementwise activation without attributes whose slope is a function of its input, not of its output (SiLU,
/// hard-swish and GELU are not monotonic): backward reads the input and the output can be freed early. A derived op
/// gives its type and its two span kernels.
/// </summary>
public abstract class InputSlopeActivation : Op
{
    /// <summary>y = f(x) over one slice.</summary>
    protected abstract void Apply(ReadOnlySpan<float> x, Span<float> y);

    /// <summary>g = g * f'(x) over one slice, in place.</summary>
    protected abstract void ApplyBackward(ReadOnlySpan<float> x, Span<float> g);

    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);
    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs) => inputs[0];
    /// <inheritdoc/>
    public override bool BackwardReadsOutput => false;

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
        float[] x = inputs[0].Data, g = gradOut.Data;
        // In place: the executor owns gradOut and nothing else reads it after this node.
        Parallelism.ForSlices(g.Length, (s, n) => ApplyBackward(x.AsSpan(s, n), g.AsSpan(s, n)));
        return [gradOut];
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new();
}
