using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using static Lopper.Tests.Graph.GradCheck;

namespace Lopper.Tests.Graph;

/// <summary>
/// The ops ConvNeXt needs: gelu (exact, erf-based) and layernorm2d (over the channels of each pixel). Forward against
/// independent double-precision definitions (erf by its Taylor series), gradients against finite differences.
/// </summary>
[Collection(SerialGraphCollection.Name)]
public class ConvNextOpTests
{
    // erf by its Maclaurin series, exact to double precision for |x| <= 4 (the terms fall below 1e-17 by n = 80).
    private static double SeriesErf(double x)
    {
        double sum = 0, term = x;
        for (int n = 0; n < 120; n++)
        {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    [Fact]
    public void GeluIsXTimesTheNormalDistributionFunction()
    {
        var x = new Tensor([1, 1, 1, 161]);
        for (int i = 0; i < x.Length; i++) x.Data[i] = -4f + i * 0.05f;
        var y = new GeluOp().Forward([x], [], new NodeState { NeedsInputGrad = [false] });
        for (int i = 0; i < x.Length; i++)
        {
            double v = x.Data[i], expected = 0.5 * v * (1 + SeriesErf(v / Math.Sqrt(2)));
            Assert.True(Math.Abs(expected - y.Data[i]) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"gelu({v}) = {y.Data[i]}, expected {expected}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void GeluGradientMatchesFiniteDifferences(int threads)
    {
        using var _ = new ThreadsScope(threads);
        var x = Randn(new Rng(501), 2, 3, 4, 5);
        CheckOp(new GeluOp(), [x], [], []);
    }

    [Theory]
    [InlineData(5, 3, 4, 1)]
    [InlineData(8, 1, 1, 2)]   // the head's LayerNorm on a pooled 1x1 map
    public void LayerNormNormalisesEachPixelOverTheChannels(int c, int h, int w, int threads)
    {
        using var _ = new ThreadsScope(threads);
        var rng = new Rng(502);
        const int n = 2;
        var op = new LayerNorm2dOp(c, 1e-6);
        var x = Randn(rng, n, c, h, w);
        for (int i = 0; i < x.Length; i++) x.Data[i] = x.Data[i] * 2 + 0.7f;
        var weight = Randn(rng, c);
        var bias = Randn(rng, c);
        var g = CheckOp(op, [x], [weight, bias], [true, true], eps: 1e-3);
        int p = h * w;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < p; j++)
            {
                double mean = 0, sq = 0;
                for (int k = 0; k < c; k++) mean += x.Data[(i * c + k) * p + j];
                mean /= c;
                for (int k = 0; k < c; k++) sq += Math.Pow(x.Data[(i * c + k) * p + j] - mean, 2);
                double inv = 1 / Math.Sqrt(sq / c + 1e-6);
                for (int k = 0; k < c; k++)
                {
                    int at = (i * c + k) * p + j;
                    Assert.Equal((x.Data[at] - mean) * inv * weight.Data[k] + bias.Data[k], g.Output[at], 1e-4);
                }
            }
        Assert.Equal(2L * n * c * h * w, op.Macs([[n, c, h, w]]));
        Assert.Equal(ChannelMapKind.PassThrough, op.MapChannels(0, [[n, c, h, w]]).Kind);
    }

    [Fact]
    public void ResizedAndModelJsonKeepEps()
    {
        var op = LayerNorm2dOp.FromJson(JsonNode.Parse("""{"channels": 16, "eps": 1e-5}""")!.AsObject());
        var small = (LayerNorm2dOp)op.Resized([9], 9);
        Assert.Equal((9, 1e-5), (small.Channels, small.Eps));
        var back = LayerNorm2dOp.FromJson(small.Attributes());
        Assert.Equal((9, 1e-5), (back.Channels, back.Eps));
        Assert.Contains("'epsilon'", Assert.Throws<LopperInputException>(() => LayerNorm2dOp.FromJson(JsonNode.Parse("""{"channels": 4, "epsilon": 1e-5}""")!.AsObject())).Message);
        Assert.Contains("'eps'", Assert.Throws<LopperInputException>(() => LayerNorm2dOp.FromJson(JsonNode.Parse("""{"channels": 4, "eps": 0}""")!.AsObject())).Message);
        Assert.IsType<GeluOp>(OpRegistry.Create("gelu", new JsonObject()));
        Assert.Throws<LopperInputException>(() => OpRegistry.Create("gelu", JsonNode.Parse("""{"approximate": "tanh"}""")!.AsObject()));
    }
}
