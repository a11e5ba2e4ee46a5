using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// The exact GELU, x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt 2)) (ConvNeXt's and the transformers' activation; not the
/// tanh approximation). Backward reads the input: d/dx = Phi(x) + x * phi(x), phi the standard normal density.
/// </summary>
public sealed class GeluOp : ElementwiseActivation
{
    /// <inheritdoc/>
    public override string Type => "gelu";

    /// <inheritdoc/>
    protected override bool SlopeFromOutput => false;

    /// <inheritdoc/>
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => Chunked(x, y, false);

    /// <inheritdoc/>
    protected override void ApplyBackward(ReadOnlySpan<float> x, Span<float> g) => Chunked(x, g, true);

    private const int Chunk = 1024;

    // Runs Evaluate on chunks small enough for the scratch to stay in L1.
    private static void Chunked(ReadOnlySpan<float> x, Span<float> y, bool gradient)
    {
        var scratch = BufferPool.Rent(3 * Chunk);
        for (int i = 0; i < x.Length; i += Chunk)
        {
            int n = Math.Min(Chunk, x.Length - i);
            Evaluate(x.Slice(i, n), y.Slice(i, n), gradient, scratch.AsSpan(0, n), scratch.AsSpan(Chunk, n), scratch.AsSpan(2 * Chunk, n));
        }
        BufferPool.Return(scratch);
    }

    private const float InvSqrt2 = 0.70710678f, InvSqrt2Pi = 0.39894228f;

    // Erfc's Chebyshev fit (Numerical Recipes' erfcc: erfc(z) = t exp(-z^2 - 1.26551223 + t Q(t)), t = 1 / (1 + z/2),
    // fractional error below 1.2e-7 for z >= 0), highest coefficient first.
    private static readonly float[] Q = [0.17087277f, -0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f, -0.18628806f, 0.09678418f, 0.37409196f, 1.00002368f];

    // y = x * Phi(x) or, with gradient, y = y * (Phi(x) + x * phi(x)), Phi the normal distribution function
    // 0.5 erfc(-x / sqrt 2) and phi its density, vectorised pass by pass over one chunk.
    private static void Evaluate(ReadOnlySpan<float> x, Span<float> y, bool gradient, Span<float> z, Span<float> t, Span<float> q)
    {
        TensorPrimitives.Abs(x, z);
        TensorPrimitives.Multiply(z, InvSqrt2, z);                 // z = |x| / sqrt 2
        TensorPrimitives.Multiply(z, 0.5f, t);
        TensorPrimitives.Add(t, 1f, t);
        TensorPrimitives.Reciprocal(t, t);                         // t = 1 / (1 + z/2)
        q.Fill(Q[0]);
        for (int k = 1; k < Q.Length; k++) TensorPrimitives.MultiplyAdd(q, t, Q[k], q);
        TensorPrimitives.Multiply(q, t, q);                        // t Q(t)
        TensorPrimitives.Multiply(z, z, z);                        // z^2
        TensorPrimitives.Subtract(q, z, q);
        TensorPrimitives.Add(q, -1.26551223f, q);
        TensorPrimitives.Exp(q, q);
        TensorPrimitives.Multiply(q, t, q);                        // erfc(|x| / sqrt 2)
        // Phi = 0.5 + sign(x) (0.5 - erfc / 2): 1 - erfc/2 for x >= 0, erfc/2 below.
        TensorPrimitives.Multiply(q, -0.5f, q);
        TensorPrimitives.Add(q, 0.5f, q);
        TensorPrimitives.CopySign(q, x, q);
        TensorPrimitives.Add(q, 0.5f, q);
        if (!gradient)
        {
            TensorPrimitives.Multiply(x, q, y);
            return;
        }
        TensorPrimitives.Negate(z, z);
        TensorPrimitives.Exp(z, z);                                // exp(-x^2 / 2)
        TensorPrimitives.Multiply(z, x, z);
        TensorPrimitives.MultiplyAdd(z, InvSqrt2Pi, q, q);         // Phi + x phi
        TensorPrimitives.Multiply(y, q, y);
    }

    /// <summary>Reads the op from model.json attributes (it takes none).</summary>
    public static GeluOp FromJson(JsonObject a)
    {
        OpAttributes.None(a, "gelu");
        return new GeluOp();
    }
}
