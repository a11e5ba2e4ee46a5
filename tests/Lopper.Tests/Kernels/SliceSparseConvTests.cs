using Lopper.Tensors.Kernels;

namespace Lopper.Tests.Kernels;

/// <summary>SliceSparseConv (lists of surviving 3x3 slices) against a naive convolution, stride 1 and 2.</summary>
public unsafe class SliceSparseConvTests
{
    [Theory]
    [InlineData(1, 16, 12, 28, 28, 0.6, true, true)]   // ResNet-20's first stage: 840 pitched positions, 26 chunks of 32
    [InlineData(1, 32, 30, 14, 14, 0.5, false, true)]  // 209 positions: 6 chunks and a 17
    [InlineData(1, 64, 49, 7, 7, 0.7, true, false)]    // 7x7: two chunks, each spanning several rows
    [InlineData(1, 5, 3, 1, 1, 0.0, true, true)]       // one pixel, nothing pruned
    [InlineData(1, 8, 9, 3, 40, 0.9, false, false)]    // rows wider than a vector: two masked runs per row
    [InlineData(1, 4, 6, 9, 9, 1.0, true, true)]       // every slice pruned: bias, residual and ReLU only
    [InlineData(2, 16, 32, 28, 28, 0.6, true, false)]  // ResNet-20's first downsampling layer: 14x14 out
    [InlineData(2, 32, 64, 14, 14, 0.5, false, true)]  // the second: 7x7 out, with a residual
    [InlineData(2, 5, 9, 9, 11, 0.3, true, true)]      // odd input: 5x6 out
    [InlineData(2, 3, 4, 2, 2, 0.0, false, false)]     // one output pixel
    public void MatchesNaiveConvolution(int stride, int cin, int cout, int h, int w, double pruned, bool relu, bool withResidual)
    {
        if (!SliceSparseConv.Supported) return;   // no AVX-512 here: the op keeps the dense kernels
        var rng = new Random(5);
        int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
        float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * oh * ow) : null;
        for (int s = 0; s < cout * cin; s++)
            if (rng.NextDouble() < pruned) Array.Clear(weight, s * 9, 9);
        var plan = SliceSparseConv.TryPlan(weight, cout, cin, 1.0)!;
        // The scratch past the planes is garbage the kernel may read for positions it drops. The padded planes
        // are padded anew for every image; the phases (stride 2) must start zero and are split into image after image.
        int planes = stride == 1 ? PaddedConv.PaddedLength(cin, h, w, 3) : StridedConv.PhasedLength(cin, oh, ow);
        var scratch = new float[stride == 1 ? SliceSparseConv.PaddedLength(cin, h, w) : SliceSparseConv.PhasedLength(cin, oh, ow)];
        Array.Fill(scratch, float.NaN, stride == 1 ? 0 : planes, scratch.Length - (stride == 1 ? 0 : planes));
        var accumulators = new float[SliceSparseConv.AccumulatorLength(plan)];
        for (int image = 0; image < 2; image++)
        {
            var y = new float[cout * oh * ow];
            Array.Fill(y, float.NaN);
            if (image == 1) for (int i = 0; i < x.Length; i++) x[i] = -x[i];
            fixed (float* xp = x, yp = y, sp = scratch, ap = accumulators, bp = bias, rp = residual)
                if (stride == 1) SliceSparseConv.Forward(xp, h, w, plan, yp, sp, ap, bp, relu, rp);
                else SliceSparseConv.ForwardStride2(xp, h, w, plan, yp, sp, ap, bp, relu, rp);
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        Assert.Equal(KernelTestData.NaiveConv3x3(x, weight, bias, residual, cin, h, w, stride, relu, o, oy, ox), y[(o * oh + oy) * ow + ox], 1e-4);
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
}
