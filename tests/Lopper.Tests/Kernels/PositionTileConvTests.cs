using Lopper.Tensors.Kernels;

namespace Lopper.Tests.Kernels;

/// <summary>PositionTileConv (positions in lanes, up to 8 filters in registers) against a naive convolution, stride 1 and 2.</summary>
public unsafe class PositionTileConvTests
{
    [Theory]
    [InlineData(1, 12, 11, 28, 28, true, true)]   // a pruned first stage: blocks of 6 and 5, 840 pitched positions
    [InlineData(1, 22, 21, 14, 14, false, true)]  // blocks of 7: 209 positions, 6 chunks and a 17
    [InlineData(1, 45, 49, 7, 7, true, false)]    // 7 blocks of 7, two chunks each spanning several rows
    [InlineData(1, 5, 1, 1, 1, true, true)]       // one filter, one pixel
    [InlineData(1, 3, 8, 3, 40, false, false)]    // one full block; rows wider than a vector: two masked runs per row
    [InlineData(1, 4, 17, 9, 9, true, true)]      // blocks of 5, 6 and 6
    [InlineData(2, 12, 23, 28, 28, true, false)]  // a pruned first downsampling layer: 14x14 out
    [InlineData(2, 22, 48, 14, 14, false, true)]  // the second: 7x7 out, with a residual
    [InlineData(2, 5, 9, 9, 11, true, true)]      // odd input: 5x6 out
    [InlineData(2, 3, 2, 2, 2, false, false)]     // one output pixel
    public void MatchesNaiveConvolution(int stride, int cin, int cout, int h, int w, bool relu, bool withResidual)
    {
        if (!PositionTileConv.Supported) return;   // no AVX-512 here: the op keeps the direct tiles
        var rng = new Random(7);
        int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
        float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * oh * ow) : null;
        var plan = PositionTileConv.Create(weight, cout, cin);
        // Past the planes the scratch is garbage the kernel may read for positions it drops; the phases (stride 2)
        // must start zero and are split into image after image.
        int planes = stride == 1 ? PaddedConv.PaddedLength(cin, h, w, 3) : StridedConv.PhasedLength(cin, oh, ow);
        var scratch = new float[stride == 1 ? SliceSparseConv.PaddedLength(cin, h, w) : SliceSparseConv.PhasedLength(cin, oh, ow)];
        Array.Fill(scratch, float.NaN, stride == 1 ? 0 : planes, scratch.Length - (stride == 1 ? 0 : planes));
        for (int image = 0; image < 2; image++)
        {
            var y = new float[cout * oh * ow];
            Array.Fill(y, float.NaN);
            if (image == 1) for (int i = 0; i < x.Length; i++) x[i] = -x[i];
            fixed (float* xp = x, yp = y, sp = scratch, bp = bias, rp = residual)
                if (stride == 1) PositionTileConv.Forward(xp, h, w, plan, yp, sp, bp, relu, rp);
                else PositionTileConv.ForwardStride2(xp, h, w, plan, yp, sp, bp, relu, rp);
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        Assert.Equal(KernelTestData.NaiveConv3x3(x, weight, bias, residual, cin, h, w, stride, relu, o, oy, ox), y[(o * oh + oy) * ow + ox], 1e-4);
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
