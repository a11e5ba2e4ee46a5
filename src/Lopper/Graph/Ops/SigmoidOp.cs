using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>1 / (1 + exp(-x)). Backward needs only the output (dy * y * (1 - y)), so the input can be freed early.</summary>
public sealed class SigmoidOp : ElementwiseActivation
{
    /// <inheritdoc/>
    public override string Type => "sigmoid";
    /// <inheritdoc/>
    protected override bool SlopeFromOutput => true;

    /// <inheritdoc/>
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Sigmoid(x, y);

    /// <inheritdoc/>
    protected override void ApplyBackward(ReadOnlySpan<float> from, Span<float> g) => ActivationKernels.SigmoidFromOutput(from, g);

    /// <summary>Reads the op from model.json attributes (it takes none).</summary>
    public static SigmoidOp FromJson(JsonObject a)
    {
        OpAttributes.None(a, "sigmoid");
        return new SigmoidOp();
    }
}
