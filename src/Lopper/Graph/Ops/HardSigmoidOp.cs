using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>
/// min(max(alpha * x + beta, 0), 1). The defaults are PyTorch's (relu6(x + 3) / 6: alpha 1/6, beta 0.5);
/// ONNX's HardSigmoid defaults to alpha 0.2, so an importer must write alpha explicitly. Backward needs only
/// the output: the slope is alpha where 0 &lt; y &lt; 1 and zero elsewhere.
/// </summary>
public sealed class HardSigmoidOp : ElementwiseActivation
{
    /// <summary>PyTorch's slope, 1/6.</summary>
    public const double DefaultAlpha = 1.0 / 6;
    /// <summary>PyTorch's offset, 0.5.</summary>
    public const double DefaultBeta = 0.5;

    /// <summary>Creates the op; alpha must be positive and both finite.</summary>
    public HardSigmoidOp(double alpha = DefaultAlpha, double beta = DefaultBeta)
    {
        if (!(alpha > 0) || !double.IsFinite(alpha) || !double.IsFinite(beta))
            throw new LopperInputException($"op hardsigmoid: alpha must be a positive number and beta finite, got alpha {alpha}, beta {beta}");
        Alpha = alpha;
        Beta = beta;
    }

    /// <summary>Slope.</summary>
    public double Alpha { get; }
    /// <summary>Offset.</summary>
    public double Beta { get; }

    /// <inheritdoc/>
    public override string Type => "hardsigmoid";
    /// <inheritdoc/>
    protected override bool SlopeFromOutput => true;

    /// <inheritdoc/>
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => ActivationKernels.AffineClamp(x, (float)Alpha, (float)Beta, 0f, 1f, y);

    /// <inheritdoc/>
    protected override void ApplyBackward(ReadOnlySpan<float> from, Span<float> g) => ActivationKernels.ClampFromOutput(from, 0f, 1f, (float)Alpha, g);

    /// <inheritdoc/>
    public override JsonObject Attributes() => new() { ["alpha"] = Alpha, ["beta"] = Beta };

    /// <summary>Reads the op from model.json attributes (alpha and beta optional, PyTorch's defaults).</summary>
    public static HardSigmoidOp FromJson(JsonObject a)
    {
        var r = new OpAttributes(a, "hardsigmoid");
        var op = new HardSigmoidOp(r.Real("alpha", DefaultAlpha, double.MinValue, double.MaxValue), r.Real("beta", DefaultBeta, double.MinValue, double.MaxValue));
        r.Done();
        return op;
    }
}
