using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using static Lopper.Tests.Graph.GradCheck;

namespace Lopper.Tests.Graph;

public class BatchNormTests
{
    private const int N = 3, C = 2, H = 3, W = 2;

    private static (Tensor X, Tensor[] Params) Setup(ulong seed)
    {
        var rng = new Rng(seed);
        var x = Randn(rng, N, C, H, W);
        for (int i = 0; i < x.Length; i++) x.Data[i] = x.Data[i] * 1.5f + 0.7f;
        var gamma = Randn(rng, C);
        var beta = Randn(rng, C);
        var runMean = new Tensor([C], [0.25f, -0.5f]);
        var runVar = new Tensor([C], [0.8f, 1.7f]);
        return (x, [gamma, beta, runMean, runVar]);
    }

    private static IEnumerable<float> Channel(Tensor x, int ch)
    {
        int plane = H * W;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < plane; k++) yield return x.Data[(i * C + ch) * plane + k];
    }

    [Fact]
    public void TrainingGradients()
    {
        var (x, ps) = Setup(201);
        var g = CheckOp(new BatchNorm2dOp(C), [x], ps, [true, true, false, false], training: true);
        Assert.Null(g.ParamGrads[2]);
        Assert.Null(g.ParamGrads[3]);

        // Output normalised with the biased batch variance.
        int plane = H * W;
        for (int ch = 0; ch < C; ch++)
        {
            var v = Channel(x, ch).Select(f => (double)f).ToArray();
            double mean = v.Average(), var = v.Select(a => (a - mean) * (a - mean)).Average();
            for (int i = 0; i < N; i++)
                for (int k = 0; k < plane; k++)
                {
                    int idx = (i * C + ch) * plane + k;
                    double expected = (x.Data[idx] - mean) / Math.Sqrt(var + 1e-5) * ps[0].Data[ch] + ps[1].Data[ch];
                    Assert.Equal(expected, g.Output[idx], 1e-4);
                }
        }
    }

    [Fact]
    public void TrainingGradientsWithOnePixelPlanes()
    {
        var rng = new Rng(202);
        var x = Randn(rng, 4, 3, 1, 1);
        var g = CheckOp(new BatchNorm2dOp(3), [x], [Randn(rng, 3), Randn(rng, 3), new Tensor(3), new Tensor([3], [1f, 1f, 1f])], [true, true, false, false]);
        Assert.NotNull(g.InputGrads[0]);
    }

    [Fact]
    public void TrainingUpdatesRunningStatistics()
    {
        var (x, ps) = Setup(203);
        var before = ps.Select(p => (float[])p.Data.Clone()).ToArray();
        var op = new BatchNorm2dOp(C);
        var st = new NodeState { Training = true, WillBackward = false, NeedsInputGrad = [true] };
        op.Forward([x], ps, st).Release();
        for (int ch = 0; ch < C; ch++)
        {
            var v = Channel(x, ch).Select(f => (double)f).ToArray();
            double mean = v.Average();
            double unbiased = v.Select(a => (a - mean) * (a - mean)).Sum() / (v.Length - 1);
            Assert.Equal(0.9 * before[2][ch] + 0.1 * mean, ps[2].Data[ch], 1e-5);
            Assert.Equal(0.9 * before[3][ch] + 0.1 * unbiased, ps[3].Data[ch], 1e-5);
        }
        // gamma and beta untouched
        Assert.Equal(before[0], ps[0].Data);
        Assert.Equal(before[1], ps[1].Data);
    }

    [Fact]
    public void CustomMomentum()
    {
        var (x, ps) = Setup(204);
        var before = (float[])ps[2].Data.Clone();
        new BatchNorm2dOp(C, momentum: 0.5).Forward([x], ps, new NodeState { Training = true, NeedsInputGrad = [true] }).Release();
        for (int ch = 0; ch < C; ch++)
            Assert.Equal(0.5 * before[ch] + 0.5 * Channel(x, ch).Select(f => (double)f).Average(), ps[2].Data[ch], 1e-5);
    }

    [Fact]
    public void EvalUsesRunningStatisticsAndLeavesThemAlone()
    {
        var (x, ps) = Setup(205);
        var before = ps.Select(p => (float[])p.Data.Clone()).ToArray();
        var g = CheckOp(new BatchNorm2dOp(C), [x], ps, [true, true, false, false], training: false);
        int plane = H * W;
        for (int i = 0; i < N; i++)
            for (int ch = 0; ch < C; ch++)
            {
                double inv = 1 / Math.Sqrt(ps[3].Data[ch] + 1e-5);
                for (int k = 0; k < plane; k++)
                {
                    int idx = (i * C + ch) * plane + k;
                    Assert.Equal((x.Data[idx] - ps[2].Data[ch]) * inv * ps[0].Data[ch] + ps[1].Data[ch], g.Output[idx], 1e-4);
                    // In eval the op is affine: dx = gamma / sqrt(running_var + eps) * dy.
                    Assert.Equal(ps[0].Data[ch] * inv * g.GradOutput[idx], g.InputGrads[0]![idx], 1e-4);
                }
            }

        // A pure eval forward (no backward) does not touch the running statistics either.
        new BatchNorm2dOp(C).Forward([x], ps, new NodeState { Training = false, NeedsInputGrad = [true] }).Release();
        for (int j = 0; j < 4; j++) Assert.Equal(before[j], ps[j].Data);
    }

    [Fact]
    public void BatchStatisticsKeepPrecisionWhenTheMeanDwarfsTheSpread()
    {
        // Mean 1000, spread 0.01, planes whose means differ: a plain sum of squares in float would lose the
        // variance entirely; the batch statistics must match a two-pass double reference.
        var rng = new Rng(9);
        int n = 4, c = 2, plane = 200;
        var x = new Tensor(n, c, 10, 20);
        for (int i = 0; i < x.Length; i++) x.Data[i] = 1000f + 0.003f * (i / plane % 3) + 0.01f * (float)rng.NextNormal();
        var op = new BatchNorm2dOp(c, momentum: 1.0);
        var ps = new[] { new Tensor([c], [1f, 1f]), new Tensor([c], [0f, 0f]), new Tensor(c), new Tensor(c) };
        op.Forward([x], ps, new NodeState { Training = true, WillBackward = false, NeedsInputGrad = [true] });
        for (int ch = 0; ch < c; ch++)
        {
            double mean = 0, sq = 0;
            for (int i = 0; i < n; i++) for (int k = 0; k < plane; k++) mean += x.Data[(i * c + ch) * plane + k];
            mean /= n * plane;
            for (int i = 0; i < n; i++) for (int k = 0; k < plane; k++) sq += Math.Pow(x.Data[(i * c + ch) * plane + k] - mean, 2);
            double unbiased = sq / (n * plane - 1);
            Assert.Equal(mean, ps[2].Data[ch], 1e-3);
            Assert.True(Math.Abs(ps[3].Data[ch] - unbiased) < 1e-3 * unbiased, $"channel {ch}: variance {ps[3].Data[ch]} vs {unbiased}");
        }
    }
}
