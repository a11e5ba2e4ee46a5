using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using static Lopper.Tests.Graph.GradCheck;

namespace Lopper.Tests.Graph;

/// <summary>
/// Rectangular kernels with per-axis padding (Inception's 1x7 / 7x1): forward against a direct loop, gradients
/// against finite differences on every path (dense im2col with small and wide planes, grouped, depthwise, kernel
/// columns), and the model.json form (an integer or [height, width]).
/// </summary>
[Collection(SerialGraphCollection.Name)]
public class RectangularConvTests
{
    [Theory]
    // cin, cout, groups, kh, kw, stride, padH, padW, dilation, bias, h, w, threads
    [InlineData(3, 4, 1, 1, 7, 1, 0, 3, 1, true, 6, 9, 1)]     // 1x7, "same"
    [InlineData(3, 4, 1, 7, 1, 1, 3, 0, 1, false, 9, 6, 2)]    // 7x1, "same"
    [InlineData(2, 5, 1, 3, 5, 2, 1, 2, 1, true, 7, 8, 2)]     // 3x5 stride 2
    [InlineData(2, 3, 1, 1, 3, 1, 0, 1, 1, true, 4, 20, 1)]    // wide rows (block-copy path of the im2col)
    [InlineData(4, 6, 2, 1, 3, 1, 0, 1, 1, true, 5, 6, 1)]     // grouped
    [InlineData(4, 4, 4, 3, 1, 1, 1, 0, 1, false, 6, 5, 2)]    // depthwise (off the square depthwise kernel)
    [InlineData(2, 3, 1, 2, 3, 1, 1, 2, 2, true, 7, 8, 1)]     // dilated
    [InlineData(3, 3, 1, 3, 3, 1, 0, 1, 1, true, 6, 6, 1)]     // square kernel, unequal padding
    public void OpLevel(int cin, int cout, int groups, int kh, int kw, int stride, int padH, int padW, int dilation, bool bias, int h, int w, int threads)
    {
        using var _ = new ThreadsScope(threads);
        var rng = new Rng(421);
        const int n = 2;
        var op = new Conv2dOp(cin, cout, kh, stride, padH, bias, groups: groups, dilation: dilation, kernelW: kw, paddingW: padW);
        int inG = cin / groups, outG = cout / groups;
        var x = Randn(rng, n, cin, h, w);
        Tensor[] ps = bias ? [Randn(rng, cout, inG, kh, kw), Randn(rng, cout)] : [Randn(rng, cout, inG, kh, kw)];
        Assert.Equal([cout, inG, kh, kw], op.Parameters([[n, cin, h, w]])[0].Shape);
        var g = CheckOp(op, [x], ps, bias ? [true, true] : [true]);

        int oh = (h + 2 * padH - dilation * (kh - 1) - 1) / stride + 1, ow = (w + 2 * padW - dilation * (kw - 1) - 1) / stride + 1;
        Assert.Equal([n, cout, oh, ow], op.OutputShape([[n, cin, h, w]]));
        Assert.Equal((long)n * cout * oh * ow * inG * kh * kw, op.Macs([[n, cin, h, w]]));
        for (int i = 0; i < n; i++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double s = bias ? ps[1].Data[o] : 0;
                        int group = o / outG;
                        for (int c = 0; c < inG; c++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int iy = oy * stride - padH + ky * dilation, ix = ox * stride - padW + kx * dilation;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    s += (double)x.Data[((i * cin + group * inG + c) * h + iy) * w + ix] * ps[0].Data[((o * inG + c) * kh + ky) * kw + kx];
                                }
                        Assert.Equal(s, g.Output[((i * cout + o) * oh + oy) * ow + ox], 1e-4);
                    }
    }

    [Fact]
    public void KernelColumnsOfARectangularKernelEqualTheDenseKernelWithThoseColumnsZero()
    {
        using var _ = new ThreadsScope(1);
        var rng = new Rng(422);
        int cin = 3, cout = 4, kh = 1, kw = 5, rows = cin * kh * kw;
        int[] keep = [0, 2, 3, 6, 9, 10, 14];
        var dense = new Conv2dOp(cin, cout, kh, 1, 0, true, kernelW: kw, paddingW: 2);
        var cols = new Conv2dOp(cin, cout, kh, 1, 0, true, keep, kernelW: kw, paddingW: 2);
        var x = Randn(rng, 2, cin, 4, 7);
        var packed = Randn(rng, cout, keep.Length);
        var full = new Tensor([cout, cin, kh, kw]);
        for (int o = 0; o < cout; o++)
            for (int j = 0; j < keep.Length; j++) full.Data[o * rows + keep[j]] = packed.Data[o * keep.Length + j];
        var bias = Randn(rng, cout);
        var a = dense.Forward([x], [full, bias], new NodeState { NeedsInputGrad = [false] });
        var b = cols.Forward([x], [packed, bias], new NodeState { NeedsInputGrad = [false] });
        for (int i = 0; i < a.Length; i++) Assert.Equal(a.Data[i], b.Data[i], 1e-5f);
        CheckOp(cols, [x], [packed, bias], [true, true]);
    }

    [Fact]
    public void ModelJsonTakesAnIntegerOrAPairAndWritesWhatItRead()
    {
        var rect = Conv2dOp.FromJson(JsonNode.Parse("""{"in_channels": 2, "out_channels": 3, "kernel": [1, 7], "padding": [0, 3]}""")!.AsObject());
        Assert.Equal((1, 7, 0, 3), (rect.KernelH, rect.KernelW, rect.PadH, rect.PadW));
        Assert.Equal("[1,7]", rect.Attributes()["kernel"]!.ToJsonString());
        Assert.Equal("[0,3]", rect.Attributes()["padding"]!.ToJsonString());
        var again = Conv2dOp.FromJson(rect.Attributes());
        Assert.Equal((1, 7, 0, 3), (again.KernelH, again.KernelW, again.PadH, again.PadW));
        var square = Conv2dOp.FromJson(JsonNode.Parse("""{"in_channels": 2, "out_channels": 3, "kernel": 3, "padding": 1}""")!.AsObject());
        Assert.Equal("3", square.Attributes()["kernel"]!.ToJsonString());
        Assert.Equal(3, square.Kernel);
        var ex = Assert.Throws<LopperInputException>(() => rect.Kernel);
        Assert.Contains("1x7", ex.Message);
    }

    [Theory]
    [InlineData("""{"in_channels": 2, "out_channels": 3, "kernel": [1, 7, 1]}""", "'kernel'")]
    [InlineData("""{"in_channels": 2, "out_channels": 3, "kernel": [0, 7]}""", "'kernel'")]
    [InlineData("""{"in_channels": 2, "out_channels": 3, "kernel": [1, "7"]}""", "'kernel'")]
    [InlineData("""{"in_channels": 2, "out_channels": 3, "kernel": 3, "padding": [1, -1]}""", "'padding'")]
    [InlineData("""{"in_channels": 2, "out_channels": 3}""", "'kernel' is missing")]
    public void BadSizesNameTheAttribute(string json, string expected)
    {
        var ex = Assert.Throws<LopperInputException>(() => Conv2dOp.FromJson(JsonNode.Parse(json)!.AsObject()));
        Assert.Contains(expected, ex.Message);
    }
}
