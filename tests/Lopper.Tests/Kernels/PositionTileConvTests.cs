using Lopper.Tensors.Kernels;

namespace Lopper.Tests.Kernels;

/// <summary>PositionTileConv (positions in lanes, up to 8 filters in registers) against a naive convolution at stride 2 (stride 1: CompactTileConvTests).</summary>
public unsafe class PositionTileConvTests
{
    [Theory]
    [InlineData(12, 23, 28, 28, true, false)]  // a pruned first downsampling layer: 14x14 out
    [InlineData(22, 48, 14, 14, false, true)]  // the second: 7x7 out, with a residual
    [InlineData(5, 9, 9, 11, true, true)]      // odd input: 5x6 out
    [InlineData(3, 2, 2, 2, false, false)]     // one output pixel
    public void MatchesNaiveConvolutionAtStride2(int cin, int cout, int h, int w, bool relu, bool withResidual)
    {
        if (!PositionTileConv.Supported) return;   // no AVX-512 here: the op keeps the direct tiles
        var rng = new Random(7);
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
        float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * oh * ow) : null;
        var plan = PositionTileConv.Create(weight, cout, cin);
        // Past the phases the scratch is garbage the kernel may read for positions it drops; the phases must start
        // zero and are split into image after image.
        int planes = StridedConv.PhasedLength(cin, oh, ow);
        var scratch = new float[SliceSparseConv.PhasedLength(cin, oh, ow)];
        Array.Fill(scratch, float.NaN, planes, scratch.Length - planes);
        for (int image = 0; image < 2; image++)
        {
            var y = new float[cout * oh * ow];
            Array.Fill(y, float.NaN);
            if (image == 1) for (int i = 0; i < x.Length; i++) x[i] = -x[i];
            fixed (float* xp = x, yp = y, sp = scratch, bp = bias, rp = residual)
                PositionTileConv.ForwardStride2(xp, h, w, plan, yp, sp, bp, relu, rp);
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        Assert.Equal(KernelTestData.NaiveConv3x3(x, weight, bias, residual, cin, h, w, 2, relu, o, oy, ox), y[(o * oh + oy) * ow + ox], 1e-4);
        }
    }

    [Theory]
    [InlineData(1, new[] { 0, 1 })]
    [InlineData(8, new[] { 0, 8 })]
    [InlineData(12, new[] { 0, 6, 12 })]
    [InlineData(17, new[] { 0, 5, 11, 17 })]
    [InlineData(49, new[] { 0, 7, 14, 21, 28, 35, 42, 49 })]
    public void BlocksAreAsEvenAsPossibleAndAtMostEight(int filters, int[] starts) =>
        Assert.Equal(starts, PositionTileConv.BlockStarts(filters));
}
