using System.Text.Json.Nodes;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>
/// x * sigmoid(x) (SiLU, "swish", EfficientNet). Not monotonic below about -1.28, so backward reads the input
/// and recomputes the sigmoid rather than keeping it: the output can be freed early and nothing extra is held.
/// </summary>
public sealed class SiluOp : ElementwiseActivation
{
    /// <inheritdoc/>
    public override string Type => "silu";

    /// <inheritdoc/>
    protected override bool SlopeFromOutput => false;

    /// <inheritdoc/>
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => ActivationKernels.Silu(x, y);

    /// <inheritdoc/>
    protected override void ApplyBackward(ReadOnlySpan<float> x, Span<float> g) => ActivationKernels.SiluBackward(x, g);

    /// <summary>Reads the op from model.json attributes (it takes none).</summary>
    public static SiluOp FromJson(JsonObject a)
    {
        OpAttributes.None(a, "silu");
        return new SiluOp();
    }
}
