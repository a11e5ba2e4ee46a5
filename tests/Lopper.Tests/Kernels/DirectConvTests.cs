using Lopper.Tensors.Kernels;

namespace Lopper.Tests.Kernels;

/// <summary>PaddedConv's direct tiles (narrow planes) against a naive same convolution.</summary>
public unsafe class DirectConvTests
{
    [Theory]
    [InlineData(3, 20, 6, 7, 3, true)]     // one 32-wide block, 12 of its lanes zero
    [InlineData(5, 40, 9, 16, 3, false)]   // a 32 block then a 16 block; 16 positions split 8 + 8
    [InlineData(4, 16, 3, 15, 3, true)]    // one 16 block, 15 positions in one tile
    [InlineData(2, 33, 4, 5, 5, true)]     // 5x5 kernel, a 32 block and a 16 block with one channel
    [InlineData(6, 8, 2, 1, 3, false)]     // one-pixel-wide planes
    [InlineData(3, 16, 5, 28, 3, true)]    // 3-tap row tiles: a 28-wide row in two pieces of 14
    [InlineData(2, 12, 3, 24, 3, false)]   // 3-tap row tiles: one piece of 24, 4 lanes zero
    [InlineData(3, 48, 2, 32, 3, true)]    // 32 wide: three Tile32 pieces, then 3-tap pieces of 16
    public void MatchesNaiveConvolution(int cin, int cout, int h, int w, int k, bool relu)
    {
        if (!PaddedConv.DirectSupported) return;   // no Vector512 here: the op uses the GEMM on padded rows
        var rng = new Random(7);
        float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * k * k), bias = KernelTestData.Fill(rng, cout);
        int depth = cin * k * k;
        var packed = new float[PaddedConv.PackedLength(cout, depth)];
        PaddedConv.PackWeights(weight, cout, depth, packed);
        var y = new float[cout * h * w];
        Array.Fill(y, float.NaN);
        var padded = new float[PaddedConv.PaddedLength(cin, h, w, k)];
        fixed (float* xp = x, wp = weight, kp = packed, yp = y, pp = padded, bp = bias)
            PaddedConv.Forward(xp, cin, h, w, k, wp, kp, cout, yp, pp, null, bp, relu);
        var expected = KernelTestData.NaiveSame(x, weight, cin, cout, h, w, k);
        for (int i = 0; i < y.Length; i++)
        {
            double s = expected[i] + bias[i / (h * w)];
            Assert.Equal(relu ? Math.Max(s, 0) : s, y[i], 1e-4);
        }
    }

    [Theory]
    [InlineData(16, 12, 28, 28, 1, 0.5)]   // ResNet-20's first stage after SPP: half the kernel columns kept
    [InlineData(8, 40, 9, 11, 1, 0.3)]     // a 32 block and a 16 block, odd plane
    [InlineData(16, 32, 28, 28, 2, 0.5)]   // stride 2 (polyphase): the downsampling convolution
    [InlineData(6, 20, 7, 7, 2, 0.8)]
    public void KernelColumnPrunedConvolutionMatchesNaive(int cin, int cout, int h, int w, int stride, double kept)
    {
        if (!PaddedConv.DirectSupported) return;   // no Vector512 here: the op uses the GEMM on padded rows
        var rng = new Random(13);
        var columns = Enumerable.Range(0, cin * 9).Where(_ => rng.NextDouble() < kept).ToArray();
        float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * columns.Length), bias = KernelTestData.Fill(rng, cout);
        int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
        var packed = new float[PaddedConv.PackedLength(cout, columns.Length)];
        PaddedConv.PackWeights(weight, cout, columns.Length, packed);
        var y = new float[cout * oh * ow];
        Array.Fill(y, float.NaN);
        var scratch = new float[Math.Max(PaddedConv.PaddedLength(cin, h, w, 3), StridedConv.PhasedLength(cin, oh, ow))];
        fixed (float* xp = x, wp = weight, kp = packed, yp = y, sp = scratch, bp = bias)
            if (stride == 1) PaddedConv.Forward(xp, cin, h, w, 3, wp, kp, cout, yp, sp, null, bp, true, null, columns);
            else StridedConv.Forward(xp, cin, h, w, kp, cout, yp, sp, bp, true, null, columns);
        for (int o = 0; o < cout; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    double s = bias[o];
                    for (int j = 0; j < columns.Length; j++)
                    {
                        int c = columns[j] / 9, ky = columns[j] % 9 / 3, kx = columns[j] % 3;
                        int iy = oy * stride + ky - 1, ix = ox * stride + kx - 1;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                        s += (double)x[(c * h + iy) * w + ix] * weight[o * columns.Length + j];
                    }
                    Assert.Equal(Math.Max(s, 0), y[(o * oh + oy) * ow + ox], 1e-4);
                }
    }

    [Theory]
    [InlineData(28, 28, 16, true)]    // ResNet-20's first stage: 16 channels fill a vector exactly
    [InlineData(14, 14, 32, true)]
    [InlineData(7, 7, 64, true)]
    [InlineData(7, 7, 44, true)]      // 44 of 48 lanes used: still direct
    [InlineData(28, 28, 12, true)]    // 12 of 16 lanes: the 3-tap row tiles still beat the GEMM
    [InlineData(28, 28, 5, false)]    // 5 of 16 lanes: the GEMM, whose rows are the channels, wastes none
    [InlineData(14, 14, 17, false)]   // 17 of 32 lanes
    [InlineData(32, 32, 12, true)]    // wider than a tile row: split into pieces
    public void PrunedWidthsThatWasteLanesTakeTheGemm(int h, int w, int outChannels, bool direct) =>
        Assert.Equal(direct && PaddedConv.DirectSupported, PaddedConv.UsesDirect(h, w, 3, outChannels));

    [Theory]
    [InlineData(6, 16, 14, 14, 5, true)]   // LeNet-5's second convolution
    [InlineData(3, 20, 9, 12, 3, false)]   // one 32 block, 12 lanes zero
    [InlineData(2, 40, 8, 31, 3, true)]    // a 32 block and a 16 block through the 3-tap row tiles, rows in pieces
    public void ValidConvolutionMatchesNaive(int cin, int cout, int h, int w, int k, bool relu)
    {
        if (!ValidConv.Applies(k, 1, 0)) return;   // no Vector512 here: the op uses im2col
        var rng = new Random(11);
        float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * k * k), bias = KernelTestData.Fill(rng, cout);
        int depth = cin * k * k, oh = h - k + 1, ow = w - k + 1;
        var packed = new float[PaddedConv.PackedLength(cout, depth)];
        PaddedConv.PackWeights(weight, cout, depth, packed);
        var y = new float[cout * oh * ow];
        Array.Fill(y, float.NaN);
        fixed (float* xp = x, kp = packed, yp = y, bp = bias)
            ValidConv.Forward(xp, cin, h, w, k, kp, cout, yp, bp, relu);
        for (int o = 0; o < cout; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    double s = bias[o];
                    for (int c = 0; c < cin; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                                s += (double)x[(c * h + oy + ky) * w + ox + kx] * weight[((o * cin + c) * k + ky) * k + kx];
                    if (relu) s = Math.Max(s, 0);
                    Assert.Equal(s, y[(o * oh + oy) * ow + ox], 1e-4);
                }
    }
}
