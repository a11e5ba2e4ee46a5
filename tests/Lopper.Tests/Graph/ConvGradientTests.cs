using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using static Lopper.Tests.Graph.GradCheck;

namespace Lopper.Tests.Graph;

/// <summary>Convolution gradients, with the batch split over 2 threads and on one thread.</summary>
[Collection(SerialGraphCollection.Name)]
public class ConvGradientTests
{
    [Theory]
    [InlineData(3, 1, 1, false, 2)]
    [InlineData(3, 1, 1, true, 2)]
    [InlineData(3, 1, 1, true, 1)]
    [InlineData(3, 2, 1, false, 2)]
    [InlineData(3, 2, 1, true, 1)]
    [InlineData(1, 1, 0, false, 2)]
    [InlineData(1, 1, 0, true, 1)]
    [InlineData(1, 2, 0, false, 1)]
    [InlineData(1, 2, 0, true, 2)]
    [InlineData(3, 1, 0, true, 2)]
    [InlineData(2, 2, 0, false, 2)]
    // 13 images of 20 output pixels: side-by-side groups of 10 and 3 (one thread) or 6 and 1, 7 (two).
    [InlineData(3, 1, 1, true, 1, 13)]
    [InlineData(3, 1, 1, false, 2, 13)]
    [InlineData(3, 2, 1, true, 2, 13)]
    // Rows of 12 or more: stride-1 same convolutions run through PaddedConv (no im2col) both ways.
    [InlineData(3, 1, 1, true, 1, 3, 12, 13)]
    [InlineData(3, 1, 1, false, 2, 3, 13, 16)]
    [InlineData(5, 1, 2, false, 1, 2, 12, 12)]
    [InlineData(3, 2, 1, true, 1, 2, 12, 14)]
    public void OpLevel(int kernel, int stride, int padding, bool bias, int threads, int n = 3, int h = 5, int w = 4)
    {
        using var _ = new ThreadsScope(threads);
        var rng = new Rng(301);
        const int cin = 2, cout = 3;
        var op = new Conv2dOp(cin, cout, kernel, stride, padding, bias);
        var x = Randn(rng, n, cin, h, w);
        Tensor[] ps = bias ? [Randn(rng, cout, cin, kernel, kernel), Randn(rng, cout)] : [Randn(rng, cout, cin, kernel, kernel)];
        var g = CheckOp(op, [x], ps, bias ? [true, true] : [true]);

        // Forward against a direct convolution.
        int oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1;
        for (int i = 0; i < n; i++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double s = bias ? ps[1].Data[o] : 0;
                        for (int c = 0; c < cin; c++)
                            for (int ky = 0; ky < kernel; ky++)
                                for (int kx = 0; kx < kernel; kx++)
                                {
                                    int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    s += (double)x.Data[((i * cin + c) * h + iy) * w + ix] * ps[0].Data[((o * cin + c) * kernel + ky) * kernel + kx];
                                }
                        Assert.Equal(s, g.Output[((i * cout + o) * oh + oy) * ow + ox], 1e-4);
                    }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void WideLayersTrainThroughWinogradOnTheVector256Family(int threads)
    {
        // 16 -> 16 channels on 8x8 planes: where training runs Winograd's F(2x2, 3x3) for the forward and the input
        // gradient (AVX2 parts; forced onto that family where Vector512 is the widest).
        using var _ = new ThreadsScope(threads);
        foreach (var path in Kernels.KernelTestData.Families(() => Tensors.Kernels.WinogradConv256.Supported && !Tensors.Kernels.WinogradConv.Wide))
            Kernels.KernelTestData.WithFamily(path, CheckWinogradTraining);
    }

    private static void CheckWinogradTraining()
    {
        var rng = new Rng(17);
        const int n = 4, c = 16, size = 8;
        var op = new Conv2dOp(c, c, 3, 1, 1, true);
        Assert.True(op.TrainsWinograd(c, c, n, size, size));
        var x = Randn(rng, n, c, size, size);
        Tensor[] ps = [Randn(rng, c, c, 3, 3), Randn(rng, c)];
        // The convolution is linear in x and the weights, so a wide step is exact but for rounding, which
        // Winograd's transforms spread over all of a filter's outputs (at the default 0.01 it swamped the
        // smallest gradients).
        var g = CheckOp(op, [x], ps, [true, true], eps: 0.5);
        for (int i = 0; i < n; i++)
        {
            var image = x.Data.AsSpan(i * c * size * size, c * size * size).ToArray();
            var expected = Kernels.KernelTestData.NaiveSame(image, ps[0].Data, c, c, size, size, 3);
            for (int j = 0; j < expected.Length; j++)
                Assert.Equal(expected[j] + ps[1].Data[j / (size * size)], g.Output[i * expected.Length + j], 1e-3);
        }
    }

    [Theory]
    [InlineData(1, 2, 16, 13)]   // kernel-column pruned, the padded shape: forward on the direct tiles, backward as the dense one
    [InlineData(1, 1, 12, 12)]
    [InlineData(2, 2, 12, 14)]   // stride 2: forward through the phases, backward on im2col
    [InlineData(1, 2, 5, 4)]     // a small plane (one tile per row)
    public void KernelColumnPrunedConvolution(int stride, int threads, int h, int w)
    {
        using var _ = new ThreadsScope(threads);
        var rng = new Rng(303);
        const int cin = 3, cout = 16;   // 16 filters fill the direct tiles' lanes, so the padded shapes take them
        int[] columns = [0, 2, 4, 5, 9, 13, 17, 20, 22, 26];
        var op = new Conv2dOp(cin, cout, 3, stride, 1, true, columns);
        var x = Randn(rng, 2, cin, h, w);
        Tensor[] ps = [Randn(rng, cout, columns.Length), Randn(rng, cout)];
        var g = CheckOp(op, [x], ps, [true, true]);
        int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
        for (int i = 0; i < 2; i++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double s = ps[1].Data[o];
                        for (int j = 0; j < columns.Length; j++)
                        {
                            int c = columns[j] / 9, iy = oy * stride - 1 + columns[j] % 9 / 3, ix = ox * stride - 1 + columns[j] % 3;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            s += (double)x.Data[((i * cin + c) * h + iy) * w + ix] * ps[0].Data[o * columns.Length + j];
                        }
                        Assert.Equal(s, g.Output[((i * cout + o) * oh + oy) * ow + ox], 1e-4);
                    }
    }

    [Theory]
    [InlineData(1, 14, 14)]   // ResNet-20's last projection shortcut after SPP: its kept input channels only
    [InlineData(2, 9, 8)]     // odd planes, two threads
    public void KernelColumnPrunedProjectionShortcut(int threads, int h, int w)
    {
        using var _ = new ThreadsScope(threads);
        var rng = new Rng(307);
        const int cin = 8, cout = 32;
        int[] channels = [1, 2, 5, 7];   // a 1x1 kernel's columns are its input channels
        var op = new Conv2dOp(cin, cout, 1, 2, 0, true, channels);
        var x = Randn(rng, 3, cin, h, w);
        Tensor[] ps = [Randn(rng, cout, channels.Length), Randn(rng, cout)];
        var g = CheckOp(op, [x], ps, [true, true]);
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
        for (int i = 0; i < 3; i++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double s = ps[1].Data[o];
                        for (int j = 0; j < channels.Length; j++)
                            s += (double)x.Data[((i * cin + channels[j]) * h + 2 * oy) * w + 2 * ox] * ps[0].Data[o * channels.Length + j];
                        Assert.Equal(s, g.Output[((i * cout + o) * oh + oy) * ow + ox], 1e-4);
                    }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void WeightGradientOnlyWhenInputNeedsNone(int threads)
    {
        using var _ = new ThreadsScope(threads);
        var rng = new Rng(302);
        var g = CheckOp(new Conv2dOp(2, 2, 3, 1, 1, true), [Randn(rng, 3, 2, 4, 4)], [Randn(rng, 2, 2, 3, 3), Randn(rng, 2)], [true, true], needsInputGrad: [false]);
        Assert.Null(g.InputGrads[0]);
    }

    [Fact]
    public void SameThreadCountGivesBitIdenticalResults()
    {
        using var _ = new ThreadsScope(2);
        var rng = new Rng(303);
        var x = Randn(rng, 5, 2, 6, 6);
        var wt = Randn(rng, 4, 2, 3, 3);
        var first = CheckOp(new Conv2dOp(2, 4, 3, 1, 1, false), [x], [wt], [true], checkNumeric: false);
        for (int rep = 0; rep < 3; rep++)
        {
            var again = CheckOp(new Conv2dOp(2, 4, 3, 1, 1, false), [x], [wt], [true], checkNumeric: false);
            Assert.Equal(first.Output, again.Output);
            Assert.Equal(first.InputGrads[0], again.InputGrads[0]);
            Assert.Equal(first.ParamGrads[0], again.ParamGrads[0]);
        }
        // One thread agrees up to rounding.
        Parallelism.Threads = 1;
        var single = CheckOp(new Conv2dOp(2, 4, 3, 1, 1, false), [x], [wt], [true], checkNumeric: false);
        for (int i = 0; i < single.ParamGrads[0]!.Length; i++) Assert.Equal(first.ParamGrads[0]![i], single.ParamGrads[0]![i], 1e-3);
        Assert.Equal(first.Output, single.Output);
    }

    [Theory]
    [InlineData(3, 1, 1, false, 2)]
    [InlineData(3, 2, 1, true, 2)]
    [InlineData(1, 2, 0, true, 1)]
    [InlineData(1, 1, 0, false, 1)]
    public void ThroughExecutor(int kernel, int stride, int padding, bool bias, int threads)
    {
        using var _ = new ThreadsScope(threads);
        var (model, input) = SingleOp([3, 2, 5, 5], 1, (b, s) => b.Conv("conv", s[0], 3, kernel, stride, padding, bias));
        var grads = CheckModel(model, input, DotLoss(5));
        Assert.Contains("src0.value", grads.Keys);
        Assert.Contains("conv.weight", grads.Keys);
        Assert.Equal(bias, grads.ContainsKey("conv.bias"));
    }
}
