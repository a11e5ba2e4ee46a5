using Lopper.Tensors;
using Lopper.Training;

namespace Lopper.Tests.Training;

public class SoftmaxCrossEntropyTests
{
    private static Tensor TwoByThree() => new([2, 3], [1f, 2f, 3f, 1f, 0f, -1f]);

    /// <summary>Mean over rows of logsumexp(z) - sum_j target_j z_j, target = (1-s) one-hot + s/K, in double.</summary>
    private static double Reference(float[] z, int k, int[] labels, double s)
    {
        double total = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = z.AsSpan(i * k, k).ToArray().Select(v => (double)v).ToArray();
            double max = row.Max();
            double lse = max + Math.Log(row.Sum(v => Math.Exp(v - max)));
            double loss = lse;
            for (int j = 0; j < k; j++) loss -= ((j == labels[i] ? 1 - s : 0) + s / k) * row[j];
            total += loss;
        }
        return total / labels.Length;
    }

    [Fact]
    public void LossAndCorrectCountByHand()
    {
        // Row 0: logits 1,2,3 label 2 -> 3 + log(1 + e^-1 + e^-2) - 3; row 1: 1,0,-1 label 1 -> 1 + log(1 + e^-1 + e^-2) - 0.
        double log = Math.Log(1 + Math.Exp(-1) + Math.Exp(-2));
        double expected = (log + (1 + log)) / 2;
        double loss = SoftmaxCrossEntropy.Compute(TwoByThree(), [2, 1], 0f, null, out int correct);
        Assert.Equal(expected, loss, 1e-5);
        Assert.Equal(0.9076059644, loss, 1e-5);
        Assert.Equal(1, correct);

        // Smoothing 0.1: minus 0.1 * (label logit - mean logit) per row: row 0 mean 2, row 1 mean 0.
        double smooth = SoftmaxCrossEntropy.Compute(TwoByThree(), [2, 1], 0.1f, null, out correct);
        Assert.Equal(expected + 0.1 * ((3 - 2) + (0 - 0)) / 2, smooth, 1e-5);
        Assert.Equal(1, correct);

        SoftmaxCrossEntropy.Compute(TwoByThree(), [2, 0], 0f, null, out correct);
        Assert.Equal(2, correct);
        SoftmaxCrossEntropy.Compute(TwoByThree(), [0, 2], 0f, null, out correct);
        Assert.Equal(0, correct);
    }

    [Fact]
    public void GradientByHand()
    {
        var grad = new Tensor(2, 3);
        SoftmaxCrossEntropy.Compute(TwoByThree(), [2, 1], 0f, grad, out _);
        double z = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        double[] p0 = [Math.Exp(1) / z, Math.Exp(2) / z, Math.Exp(3) / z];
        double[] p1 = [Math.Exp(3) / z, Math.Exp(2) / z, Math.Exp(1) / z];
        double[] expected = [p0[0] / 2, p0[1] / 2, (p0[2] - 1) / 2, p1[0] / 2, (p1[1] - 1) / 2, p1[2] / 2];
        for (int i = 0; i < 6; i++) Assert.Equal(expected[i], grad.Data[i], 1e-6);
    }

    [Theory]
    [InlineData(0f, 1e-2)]
    [InlineData(0.1f, 1e-2)]
    [InlineData(0f, 1e-3)]
    [InlineData(0.1f, 1e-3)]
    public void GradientMatchesFiniteDifferences(float smoothing, double eps)
    {
        const int n = 4, k = 5;
        var rng = new Rng(501);
        var logits = new Tensor(n, k);
        for (int i = 0; i < logits.Length; i++) logits.Data[i] = (float)(2 * rng.NextNormal());
        int[] labels = [3, 0, 4, 3];
        var grad = new Tensor(n, k);
        grad.Span.Fill(99f); // must be overwritten
        double loss = SoftmaxCrossEntropy.Compute(logits, labels, smoothing, grad, out _);
        Assert.Equal(Reference(logits.Data, k, labels, smoothing), loss, 1e-5);
        for (int e = 0; e < logits.Length; e++)
        {
            float v = logits.Data[e];
            float up = (float)(v + eps), down = (float)(v - eps);
            logits.Data[e] = up;
            double lp = SoftmaxCrossEntropy.Compute(logits, labels, smoothing, null, out _);
            logits.Data[e] = down;
            double lm = SoftmaxCrossEntropy.Compute(logits, labels, smoothing, null, out _);
            logits.Data[e] = v;
            double numeric = (lp - lm) / ((double)up - down);
            double analytic = grad.Data[e];
            Assert.True(Math.Abs(analytic - numeric) <= 2e-2 * Math.Max(Math.Abs(analytic), Math.Abs(numeric)) + 1e-3,
                $"logit {e}: analytic {analytic} vs finite difference {numeric}");
        }
        // Each row of the gradient sums to zero (softmax and target both sum to 1).
        for (int i = 0; i < n; i++) Assert.Equal(0, grad.Data.AsSpan(i * k, k).ToArray().Sum(), 1e-5);
    }

    [Fact]
    public void LargeLogitsStayFinite()
    {
        var logits = new Tensor([2, 3], [1000f, -1000f, 0f, -500f, 500f, 499f]);
        var grad = new Tensor(2, 3);
        double loss = SoftmaxCrossEntropy.Compute(logits, [1, 2], 0.1f, grad, out int correct);
        Assert.True(double.IsFinite(loss));
        Assert.Equal(Reference(logits.Data, 3, [1, 2], 0.1), loss, 1e-2);
        Assert.All(grad.Data, g => Assert.True(float.IsFinite(g)));
        Assert.Equal(0, correct);
    }

    [Fact]
    public void BadLabelsAreInputErrors()
    {
        Assert.Throws<LopperInputException>(() => SoftmaxCrossEntropy.Compute(TwoByThree(), [0], 0f, null, out _));
        Assert.Throws<LopperInputException>(() => SoftmaxCrossEntropy.Compute(TwoByThree(), [0, 3], 0f, null, out _));
        Assert.Throws<LopperInputException>(() => SoftmaxCrossEntropy.Compute(TwoByThree(), [-1, 0], 0f, null, out _));
    }
}
