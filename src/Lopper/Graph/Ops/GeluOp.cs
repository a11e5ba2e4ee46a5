using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// The exact GELU, x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt 2)) (ConvNeXt's and the transformers' activation; not the
/// tanh approximation). Backward reads the input: d/dx = Phi(x) + x * phi(x), phi the standard normal density.
/// </summary>
public sealed class GeluOp : Op
{
    /// <inheritdoc/>
    public override string Type => "gelu";
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
        Parallelism.ForSlices(y.Length, (s, n) =>
        {
            for (int i = s; i < s + n; i++)
            {
                double v = x[i];
                yd[i] = (float)(v * Phi(v));
            }
        });
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        float[] x = inputs[0].Data, g = gradOut.Data;
        // In place: the executor owns gradOut and nothing else reads it after this node.
        Parallelism.ForSlices(g.Length, (s, n) =>
        {
            for (int i = s; i < s + n; i++)
            {
                double v = x[i];
                g[i] = (float)(g[i] * (Phi(v) + v * Math.Exp(-0.5 * v * v) * InvSqrt2Pi));
            }
        });
        return [gradOut];
    }

    private const double InvSqrt2Pi = 0.3989422804014327;

    // The standard normal distribution function, 0.5 * erfc(-x / sqrt 2).
    private static double Phi(double x) => 0.5 * Erfc(-x * 0.7071067811865476);

    /// <summary>
    /// The complementary error function, from the Chebyshev fit erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2)
    /// (Numerical Recipes' erfcc): fractional error below 1.2e-7 for every argument, below float32's resolution of GELU.
    /// </summary>
    public static double Erfc(double x)
    {
        double z = Math.Abs(x), t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2.0 - r;
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new();

    /// <summary>Reads the op from model.json attributes (it takes none).</summary>
    public static GeluOp FromJson(JsonObject a)
    {
        OpAttributes.None(a, "gelu");
        return new GeluOp();
    }
}
