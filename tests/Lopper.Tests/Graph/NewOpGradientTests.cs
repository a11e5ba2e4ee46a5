using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using static Lopper.Tests.Graph.GradCheck;

namespace Lopper.Tests.Graph;

/// <summary>Concat, mul, channel shuffle and padded / ceil-mode pooling: forward against direct loops, gradients against finite differences.</summary>
public class NewOpGradientTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Concat(int count)
    {
        var rng = new Rng(401);
        var inputs = Enumerable.Range(0, count).Select(i => Randn(rng, 2, i + 1, 3, 2)).ToArray();
        var g = CheckOp(new ConcatOp(), inputs, [], []);
        int total = Enumerable.Range(1, count).Sum();
        int offset = 0;
        for (int k = 0; k < count; k++)
        {
            int c = k + 1;
            for (int n = 0; n < 2; n++)
                for (int j = 0; j < c * 6; j++)
                    Assert.Equal(inputs[k].Data[n * c * 6 + j], g.Output[n * total * 6 + offset * 6 + j]);
            offset += c;
        }
    }

    [Fact]
    public void ConcatOfTheSameTensorTwiceAddsItsGradients()
    {
        var rng = new Rng(402);
        var x = Randn(rng, 2, 3, 2, 2);
        CheckOp(new ConcatOp(), [x, x], [], []);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Mul(bool broadcast)
    {
        var rng = new Rng(403);
        var a = Randn(rng, 2, 3, 4, 3);
        var b = broadcast ? Randn(rng, 2, 3, 1, 1) : Randn(rng, 2, 3, 4, 3);
        var g = CheckOp(new MulOp(), [a, b], [], []);
        for (int i = 0; i < a.Length; i++)
            Assert.Equal(a.Data[i] * b.Data[broadcast ? i / 12 : i], g.Output[i], 1e-6f);
    }

    [Fact]
    public void MulRejectsAnUnbroadcastableGate()
    {
        var e = Assert.Throws<LopperInputException>(() => new MulOp().OutputShape([[2, 3, 4, 4], [2, 3, 4, 1]]));
        Assert.Contains("mul", e.Message);
    }

    [Theory]
    [InlineData(2, 6)]
    [InlineData(3, 6)]
    [InlineData(1, 4)]
    public void ChannelShuffle(int groups, int channels)
    {
        var rng = new Rng(404);
        var x = Randn(rng, 2, channels, 2, 3);
        var g = CheckOp(new ChannelShuffleOp(groups), [x], [], []);
        int per = channels / groups;
        // Reference: reshape to [groups, per], transpose to [per, groups].
        for (int n = 0; n < 2; n++)
            for (int gi = 0; gi < groups; gi++)
                for (int k = 0; k < per; k++)
                    for (int p = 0; p < 6; p++)
                        Assert.Equal(x.Data[(n * channels + gi * per + k) * 6 + p], g.Output[(n * channels + k * groups + gi) * 6 + p]);
    }

    [Theory]
    // size, kernel, stride, padding, ceil, expected (PyTorch's pooling_output_shape)
    [InlineData(5, 2, 2, 0, false, 2)]
    [InlineData(5, 2, 2, 0, true, 3)]
    [InlineData(6, 3, 2, 1, false, 3)]
    [InlineData(6, 3, 2, 1, true, 4)]
    [InlineData(5, 3, 3, 1, true, 2)]   // the ceil window would start in the right padding: dropped
    [InlineData(7, 3, 2, 0, true, 3)]
    public void PoolOutputSizesFollowPyTorch(int size, int kernel, int stride, int padding, bool ceil, int expected)
    {
        Assert.Equal(expected, new MaxPool2dOp(kernel, stride, padding, ceil).OutputShape([[1, 1, size, size]])[2]);
        Assert.Equal(expected, new AvgPool2dOp(kernel, stride, padding, ceil).OutputShape([[1, 1, size, size]])[2]);
    }

    [Theory]
    [InlineData(3, 2, 1, true, true)]
    [InlineData(3, 2, 1, true, false)]
    [InlineData(2, 2, 0, true, true)]
    [InlineData(3, 1, 1, false, false)]
    [InlineData(2, 2, 1, false, true)]
    public void AvgPoolWithPaddingAndCeilMode(int kernel, int stride, int padding, bool ceil, bool includePad)
    {
        var rng = new Rng(405);
        const int h = 5, w = 6;
        var x = Randn(rng, 2, 2, h, w);
        var op = new AvgPool2dOp(kernel, stride, padding, ceil, includePad);
        var g = CheckOp(op, [x], [], []);
        var shape = op.OutputShape([x.Shape]);
        int oh = shape[2], ow = shape[3];
        // Reference: PyTorch's avg_pool2d loop (pool size taken before clipping to the image, after clipping to the padded image).
        for (int p = 0; p < 4; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    int hs = oy * stride - padding, ws = ox * stride - padding;
                    int he = Math.Min(hs + kernel, h + padding), we = Math.Min(ws + kernel, w + padding);
                    int poolSize = (he - hs) * (we - ws);
                    hs = Math.Max(hs, 0); ws = Math.Max(ws, 0); he = Math.Min(he, h); we = Math.Min(we, w);
                    double sum = 0;
                    for (int iy = hs; iy < he; iy++)
                        for (int ix = ws; ix < we; ix++) sum += x.Data[p * h * w + iy * w + ix];
                    int divisor = includePad ? poolSize : (he - hs) * (we - ws);
                    Assert.Equal(sum / divisor, g.Output[(p * oh + oy) * ow + ox], 1e-5);
                }
    }

    [Theory]
    [InlineData(3, 2, 1, true)]
    [InlineData(2, 2, 0, true)]
    [InlineData(3, 2, 0, true)]
    public void MaxPoolCeilMode(int kernel, int stride, int padding, bool ceil)
    {
        var rng = new Rng(406);
        const int h = 5, w = 6;
        var x = Distinct(rng, 0.05f, 2, 2, h, w);
        var op = new MaxPool2dOp(kernel, stride, padding, ceil);
        var g = CheckOp(op, [x], [], []);
        var shape = op.OutputShape([x.Shape]);
        int oh = shape[2], ow = shape[3];
        for (int p = 0; p < 4; p++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    float best = float.NegativeInfinity;
                    for (int iy = Math.Max(0, oy * stride - padding); iy < Math.Min(h, oy * stride - padding + kernel); iy++)
                        for (int ix = Math.Max(0, ox * stride - padding); ix < Math.Min(w, ox * stride - padding + kernel); ix++)
                            best = Math.Max(best, x.Data[p * h * w + iy * w + ix]);
                    Assert.Equal(best, g.Output[(p * oh + oy) * ow + ox]);
                }
    }

    [Fact]
    public void NewOpsCountNoMacsAndDeclareTheirChannelMaps()
    {
        int[][] two = [[1, 4, 3, 3], [1, 2, 3, 3]];
        var concat = new ConcatOp();
        Assert.Equal([-1, -1, -1, -1, 0, 1], concat.MapChannels(1, two).Source!);
        Assert.Equal(ChannelMapKind.ConcatOffset, concat.MapChannels(0, two).Kind);
        var mul = new MulOp();
        Assert.Equal(ChannelMapKind.Broadcast, mul.MapChannels(1, [[1, 4, 3, 3], [1, 4, 1, 1]]).Kind);
        var shuffle = new ChannelShuffleOp(2).MapChannels(0, [[1, 6, 2, 2]]);
        Assert.Equal([0, 3, 1, 4, 2, 5], shuffle.Source!);
        Assert.Equal(3, shuffle.Coupled!.Length);
        Assert.Equal(0, concat.Macs(two));
    }
}
