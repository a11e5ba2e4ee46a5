using System.Text.Json.Nodes;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>
/// x * relu6(x + 3) / 6 (MobileNetV3). The function is not monotonic on [-3, -1.5], so its output does not
/// determine its slope: backward reads the input and the output can be freed early.
/// </summary>
public sealed class HardSwishOp : ElementwiseActivation
{
    /// <inheritdoc/>
    public override string Type => "hardswish";

    /// <inheritdoc/>
    protected override bool SlopeFromOutput => false;

    /// <inheritdoc/>
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => ActivationKernels.HardSwish(x, y);

    /// <inheritdoc/>
    protected override void ApplyBackward(ReadOnlySpan<float> x, Span<float> g) => ActivationKernels.HardSwishBackward(x, g);

    /// <summary>Reads the op from model.json attributes (it takes none).</summary>
    public static HardSwishOp FromJson(JsonObject a)
    {
        OpAttributes.None(a, "hardswish");
        return new HardSwishOp();
    }
}
