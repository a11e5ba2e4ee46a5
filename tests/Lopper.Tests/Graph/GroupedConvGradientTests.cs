using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using static Lopper.Tests.Graph.GradCheck;

namespace Lopper.Tests.Graph;

/// <summary>Grouped, depthwise and dilated convolutions: forward against a direct loop, gradients against finite differences.</summary>
[Collection(SerialGraphCollection.Name)]
public class GroupedConvGradientTests
{
    [Theory]
    // cin, cout, groups, kernel, stride, padding, dilation, bias, threads
    [InlineData(4, 6, 2, 3, 1, 1, 1, true, 2)]     // grouped
    [InlineData(4, 4, 4, 3, 1, 1, 1, false, 1)]    // depthwise
    [InlineData(3, 6, 3, 3, 2, 1, 1, true, 2)]     // depthwise, multiplier 2, stride 2
    [InlineData(2, 3, 1, 3, 1, 2, 2, true, 1)]     // dilated, groups 1
    [InlineData(4, 8, 4, 3, 1, 2, 2, false, 2)]    // dilated depthwise, multiplier 2
    [InlineData(6, 4, 2, 1, 1, 0, 1, true, 1)]     // grouped pointwise
    [InlineData(4, 4, 4, 5, 2, 2, 1, true, 2)]     // depthwise 5x5 stride 2
    public void OpLevel(int cin, int cout, int groups, int kernel, int stride, int padding, int dilation, bool bias, int threads)
    {
        using var _ = new ThreadsScope(threads);
        var rng = new Rng(311);
        const int n = 3, h = 6, w = 5;
        var op = new Conv2dOp(cin, cout, kernel, stride, padding, bias, groups: groups, dilation: dilation);
        int inG = cin / groups, outG = cout / groups;
        var x = Randn(rng, n, cin, h, w);
        Tensor[] ps = bias ? [Randn(rng, cout, inG, kernel, kernel), Randn(rng, cout)] : [Randn(rng, cout, inG, kernel, kernel)];
        var g = CheckOp(op, [x], ps, bias ? [true, true] : [true]);

        int oh = (h + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1, ow = (w + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
        Assert.Equal([n, cout, oh, ow], op.OutputShape([[n, cin, h, w]]));
        for (int i = 0; i < n; i++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double s = bias ? ps[1].Data[o] : 0;
                        int group = o / outG;
                        for (int c = 0; c < inG; c++)
                            for (int ky = 0; ky < kernel; ky++)
                                for (int kx = 0; kx < kernel; kx++)
                                {
                                    int iy = oy * stride - padding + ky * dilation, ix = ox * stride - padding + kx * dilation;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    int ci = group * inG + c;
                                    s += (double)x.Data[((i * cin + ci) * h + iy) * w + ix] * ps[0].Data[((o * inG + c) * kernel + ky) * kernel + kx];
                                }
                        Assert.Equal(s, g.Output[((i * cout + o) * oh + oy) * ow + ox], 1e-4);
                    }
    }

    [Fact]
    public void MacsAndParametersCountPerGroup()
    {
        var op = new Conv2dOp(8, 16, 3, 1, 1, true, groups: 8);
        var shapes = new[] { new[] { 1, 8, 10, 10 } };
        Assert.Equal(16L * 10 * 10 * 1 * 9, op.Macs(shapes));
        var specs = op.Parameters(shapes);
        Assert.Equal([16, 1, 3, 3], specs[0].Shape);
        Assert.Equal(-1, specs[0].InAxis);
        Assert.Equal(ChannelMapKind.GroupCoupled, op.MapChannels(0, shapes).Kind);
        Assert.Equal(ChannelMapKind.Locked, new Conv2dOp(8, 16, 3, 1, 1, true, groups: 2).MapChannels(0, shapes).Kind);
    }

    [Fact]
    public void FusedReluAndResidualApplyOnTheGroupedPath()
    {
        using var _ = new ThreadsScope(1);
        var rng = new Rng(312);
        var op = new Conv2dOp(4, 4, 3, 1, 1, true, relu: true, residual: true, groups: 4);
        var plain = new Conv2dOp(4, 4, 3, 1, 1, true, groups: 4);
        var x = Randn(rng, 2, 4, 5, 5);
        var r = Randn(rng, 2, 4, 5, 5);
        Tensor[] ps = [Randn(rng, 4, 1, 3, 3), Randn(rng, 4)];
        var st = new NodeState { NeedsInputGrad = [false, false] };
        var fused = op.Forward([x, r], ps, st);
        var y = plain.Forward([x], ps, new NodeState { NeedsInputGrad = [false] });
        for (int i = 0; i < y.Length; i++) Assert.Equal(Math.Max(0f, y.Data[i] + r.Data[i]), fused.Data[i], 1e-5f);
    }
}
