using Lopper.Tensors.Kernels;

namespace Lopper.Tests.Kernels;

/// <summary>SliceSparseConv (per-filter lists of surviving 3x3 slices) against a naive same convolution.</summary>
public unsafe class SliceSparseConvTests
{
    [Theory]
    [InlineData(16, 12, 28, 28, 0.6, true, true)]   // ResNet-20's first stage: 840 pitched positions, 26 chunks of 32
    [InlineData(32, 30, 14, 14, 0.5, false, true)]  // 209 positions: 6 chunks and a 17
    [InlineData(64, 49, 7, 7, 0.7, true, false)]    // 7x7: two chunks, each spanning several rows
    [InlineData(5, 3, 1, 1, 0.0, true, true)]       // one pixel, nothing pruned
    [InlineData(8, 9, 3, 40, 0.9, false, false)]    // rows wider than a vector: two masked runs per row
    [InlineData(4, 6, 9, 9, 1.0, true, true)]       // every slice pruned: bias, residual and ReLU only
    public void MatchesNaiveConvolution(int cin, int cout, int h, int w, double pruned, bool relu, bool withResidual)
    {
        if (!SliceSparseConv.Supported) return;   // no AVX-512 here: the op keeps the dense kernels
        var rng = new Random(5);
        float[] x = Fill(rng, cin * h * w), weight = Fill(rng, cout * cin * 9), bias = Fill(rng, cout);
        float[]? residual = withResidual ? Fill(rng, cout * h * w) : null;
        for (int s = 0; s < cout * cin; s++)
            if (rng.NextDouble() < pruned) Array.Clear(weight, s * 9, 9);
        var plan = SliceSparseConv.TryPlan(weight, cout, cin, 1.0)!;
        var y = new float[cout * h * w];
        Array.Fill(y, float.NaN);
        // The scratch past the padded planes is garbage the kernel may read for positions it drops.
        var padded = new float[SliceSparseConv.PaddedLength(cin, h, w)];
        Array.Fill(padded, float.NaN);
        var accumulators = new float[SliceSparseConv.AccumulatorLength(plan)];
        fixed (float* xp = x, yp = y, pp = padded, ap = accumulators, bp = bias, rp = residual)
            SliceSparseConv.Forward(xp, h, w, plan, yp, pp, ap, bp, relu, rp);
        for (int o = 0; o < cout; o++)
            for (int oy = 0; oy < h; oy++)
                for (int ox = 0; ox < w; ox++)
                {
                    double s = bias[o] + (residual?[(o * h + oy) * w + ox] ?? 0);
                    for (int c = 0; c < cin; c++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int iy = oy + ky - 1, ix = ox + kx - 1;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                s += (double)x[(c * h + iy) * w + ix] * weight[((o * cin + c) * 3 + ky) * 3 + kx];
                            }
                    if (relu) s = Math.Max(s, 0);
                    Assert.Equal(s, y[(o * h + oy) * w + ox], 1e-4);
                }
    }

    [Theory]
    [InlineData(16, 32, 28, 28, 0.6, true, false)]   // ResNet-20's first downsampling layer: 14x14 out
    [InlineData(32, 64, 14, 14, 0.5, false, true)]   // the second: 7x7 out, with a residual
    [InlineData(5, 9, 9, 11, 0.3, true, true)]       // odd input: 5x6 out
    [InlineData(3, 4, 2, 2, 0.0, false, false)]      // one output pixel
    public void StrideTwoMatchesNaiveConvolution(int cin, int cout, int h, int w, double pruned, bool relu, bool withResidual)
    {
        if (!SliceSparseConv.Supported) return;
        var rng = new Random(8);
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
        float[] x = Fill(rng, cin * h * w), weight = Fill(rng, cout * cin * 9), bias = Fill(rng, cout);
        float[]? residual = withResidual ? Fill(rng, cout * oh * ow) : null;
        for (int s = 0; s < cout * cin; s++)
            if (rng.NextDouble() < pruned) Array.Clear(weight, s * 9, 9);
        var plan = SliceSparseConv.TryPlan(weight, cout, cin, 1.0)!;
        var phased = new float[SliceSparseConv.PhasedLength(cin, oh, ow)];
        var accumulators = new float[SliceSparseConv.AccumulatorLength(plan)];
        for (int image = 0; image < 2; image++)   // the phases are split into the same scratch image after image
        {
            var y = new float[cout * oh * ow];
            Array.Fill(y, float.NaN);
            if (image == 1) for (int i = 0; i < x.Length; i++) x[i] = -x[i];
            fixed (float* xp = x, yp = y, pp = phased, ap = accumulators, bp = bias, rp = residual)
                SliceSparseConv.ForwardStride2(xp, h, w, plan, yp, pp, ap, bp, relu, rp);
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double s = bias[o] + (residual?[(o * oh + oy) * ow + ox] ?? 0);
                        for (int c = 0; c < cin; c++)
                            for (int ky = 0; ky < 3; ky++)
                                for (int kx = 0; kx < 3; kx++)
                                {
                                    int iy = 2 * oy + ky - 1, ix = 2 * ox + kx - 1;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    s += (double)x[(c * h + iy) * w + ix] * weight[((o * cin + c) * 3 + ky) * 3 + kx];
                                }
                        if (relu) s = Math.Max(s, 0);
                        Assert.Equal(s, y[(o * oh + oy) * ow + ox], 1e-4);
                    }
        }
    }

    [Fact]
    public void PlanKeepsOnlySlicesWithANonZeroTapAndRefusesDenseWeights()
    {
        // 2 filters x 3 input channels: filter 0 keeps channel 2 (one non-zero tap), filter 1 keeps 0 and 1;
        // the plan lists them by input channel.
        var weight = new float[2 * 3 * 9];
        weight[(0 * 3 + 2) * 9 + 8] = 0.5f;
        weight[(1 * 3 + 0) * 9 + 0] = 1f;
        weight[(1 * 3 + 1) * 9 + 4] = -2f;
        var plan = SliceSparseConv.TryPlan(weight, 2, 3, 0.5)!;
        Assert.Equal(0.5, plan.Density);
        Assert.Equal([0, 1, 2, 3], plan.Starts);
        Assert.Equal([1, 1, 0], plan.Outputs);
        Assert.Equal(-2f, plan.Weights[1 * 9 + 4]);
        Assert.Equal(0.5f, plan.Weights[2 * 9 + 8]);
        Assert.Null(SliceSparseConv.TryPlan(weight, 2, 3, 0.49));
    }

    private static float[] Fill(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
