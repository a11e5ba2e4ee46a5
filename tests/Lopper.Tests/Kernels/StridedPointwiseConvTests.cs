using Lopper.Tensors.Kernels;

namespace Lopper.Tests.Kernels;

/// <summary>StridedPointwiseConv (1x1, stride above 1: projection shortcuts) against a naive convolution.</summary>
public unsafe class StridedPointwiseConvTests
{
    [Theory]
    [InlineData(16, 32, 28, 28, 2, false, false)]  // ResNet-20's first shortcut: 14x14 out
    [InlineData(32, 64, 14, 14, 2, true, true)]    // the second: 7x7 out, with a residual and ReLU (as folding fuses them)
    [InlineData(5, 20, 7, 9, 2, true, false)]      // odd planes: 4x5 out; a 32 block with 12 lanes zero
    [InlineData(3, 40, 10, 11, 3, false, true)]    // stride 3: 4x4 out; a 32 block and a 16 block
    [InlineData(32, 64, 14, 14, 2, true, true, 3)] // kernel-column pruned (SPP): input channels 0, 3, 6, ... only
    [InlineData(5, 20, 7, 9, 2, false, false, 2)]
    [InlineData(4, 16, 9, 38, 2, false, true)]     // rows of 19 outputs: two vectors a row
    public void MatchesNaiveConvolution(int cin, int cout, int h, int w, int stride, bool relu, bool withResidual, int every = 1)
    {
        if (!StridedPointwiseConv.Applies(1, stride, 0)) return;   // no Vector512 here: the op uses im2col
        var rng = new Random(9);
        int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
        int[]? inputs = every == 1 ? null : Enumerable.Range(0, cin).Where(c => c % every == 0).ToArray();
        int depth = inputs?.Length ?? cin;
        float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * depth), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * oh * ow) : null;
        var packed = new float[PaddedConv.PackedLength(cout, depth)];
        PaddedConv.PackWeights(weight, cout, depth, packed);
        var y = new float[cout * oh * ow];
        Array.Fill(y, float.NaN);
        var gathered = new float[StridedPointwiseConv.GatheredLength(depth, oh, ow)];
        fixed (float* xp = x, kp = packed, yp = y, gp = gathered, bp = bias, rp = residual)
            StridedPointwiseConv.Forward(xp, depth, h, w, stride, kp, cout, yp, gp, bp, relu, rp, inputs);
        for (int o = 0; o < cout; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    double s = bias[o] + (residual?[(o * oh + oy) * ow + ox] ?? 0);
                    for (int j = 0; j < depth; j++) s += (double)x[((inputs?[j] ?? j) * h + oy * stride) * w + ox * stride] * weight[o * depth + j];
                    if (relu) s = Math.Max(s, 0);
                    Assert.Equal(s, y[(o * oh + oy) * ow + ox], 1e-4);
                }
    }
}
