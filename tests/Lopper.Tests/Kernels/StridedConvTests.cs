using Lopper.Tensors.Kernels;
using Lopper.Tests.Graph;

namespace Lopper.Tests.Kernels;

/// <summary>
/// StridedConv (polyphase stride-2 3x3) against a naive convolution, forward (the direct tiles, and the GEMM on phase
/// rows) and weight gradient, on each kernel family the hardware runs: the widest, and the Vector256 one forced where
/// Vector512 is the widest. Serial: the forced family is process-wide.
/// </summary>
[Collection(SerialGraphCollection.Name)]
public unsafe class StridedConvTests
{
    [Theory]
    [InlineData(3, 20, 28, 28)]   // even planes, one 32 block
    [InlineData(5, 40, 7, 9)]     // odd planes (the last phase row and column are padding), a 32 and a 16 block
    [InlineData(4, 16, 33, 34)]   // rows over 32 floats: the full-vector deinterleave and a tail; 17 outputs in two tiles
    [InlineData(2, 8, 1, 2)]      // a one-row image
    public void MatchesNaiveConvolution(int cin, int cout, int h, int w)
    {
        foreach (var path in Families())
            KernelTestData.WithFamily(path, () =>
            {
                if (PaddedConv.DirectSupported) CheckForward(cin, cout, h, w, rows: false);
                CheckForward(cin, cout, h, w, rows: true);
            });
    }

    private static IEnumerable<Gemm.KernelPath> Families() => KernelTestData.Families(() => StridedConv.Applies(3, 2, 1));

    private static void CheckForward(int cin, int cout, int h, int w, bool rows)
    {
        var rng = new Random(8);
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1, depth = cin * 9;
        // Two images through the same phase scratch: the second must not see the first's values in the padding.
        float[] x = KernelTestData.Fill(rng, 2 * cin * h * w), weight = KernelTestData.Fill(rng, cout * depth), bias = KernelTestData.Fill(rng, cout), residual = KernelTestData.Fill(rng, 2 * cout * oh * ow);
        var packed = new float[PaddedConv.PackedLength(cout, depth)];
        PaddedConv.PackWeights(weight, cout, depth, packed);
        var y = new float[2 * cout * oh * ow];
        Array.Fill(y, float.NaN);
        var phased = new float[StridedConv.PhasedLength(cin, oh, ow)];
        var rowsWeight = new float[Gemm.PackedRowsLength(cout, depth)];
        var pointers = new nint[depth];
        fixed (float* xp = x, wp = weight, kp = packed, rw = rowsWeight, yp = y, pp = phased, bp = bias, rp = residual)
        fixed (nint* pointersp = pointers)
        {
            Gemm.PackRows(cout, depth, wp, depth, rw);
            for (int i = 0; i < 2; i++)
                if (rows) StridedConv.ForwardRows(xp + i * cin * h * w, cin, h, w, rw, cout, yp + i * cout * oh * ow, pp, (float**)pointersp, bp, true, rp + i * cout * oh * ow);
                else StridedConv.Forward(xp + i * cin * h * w, cin, h, w, kp, cout, yp + i * cout * oh * ow, pp, bp, true, rp + i * cout * oh * ow);
        }
        for (int i = 0; i < 2; i++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double s = bias[o] + residual[((i * cout + o) * oh + oy) * ow + ox];
                        for (int c = 0; c < cin; c++)
                            for (int t = 0; t < 9; t++)
                                if (Input(x, i, c, cin, h, w, 2 * oy + t / 3 - 1, 2 * ox + t % 3 - 1) is float v)
                                    s += (double)v * weight[(o * cin + c) * 9 + t];
                        Assert.True(Math.Abs(Math.Max(s, 0) - y[((i * cout + o) * oh + oy) * ow + ox]) <= 1e-4, $"rows {rows}: y[{i},{o},{oy},{ox}]");
                    }
    }

    [Theory]
    [InlineData(3, 20, 28, 28)]
    [InlineData(5, 40, 7, 9)]
    [InlineData(2, 3, 3, 1)]
    public void WeightGradientMatchesNaiveSum(int cin, int cout, int h, int w)
    {
        foreach (var path in Families()) KernelTestData.WithFamily(path, () => CheckWeightGradient(cin, cout, h, w));
    }

    private static void CheckWeightGradient(int cin, int cout, int h, int w)
    {
        var rng = new Random(9);
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
        float[] x = KernelTestData.Fill(rng, 2 * cin * h * w), g = KernelTestData.Fill(rng, 2 * cout * oh * ow);
        var dWT = new float[9 * cin * cout];
        var phased = new float[StridedConv.PhasedLength(cin, oh, ow)];
        var paddedGrad = new float[StridedConv.GradLength(cout, oh, ow)];
        fixed (float* xp = x, gp = g, dp = dWT, pp = phased, pg = paddedGrad)
            for (int i = 0; i < 2; i++)
                StridedConv.WeightGradient(xp + i * cin * h * w, gp + i * cout * oh * ow, cin, cout, h, w, dp, pp, pg);
        for (int o = 0; o < cout; o++)
            for (int c = 0; c < cin; c++)
                for (int t = 0; t < 9; t++)
                {
                    double s = 0;
                    for (int i = 0; i < 2; i++)
                        for (int oy = 0; oy < oh; oy++)
                            for (int ox = 0; ox < ow; ox++)
                                if (Input(x, i, c, cin, h, w, 2 * oy + t / 3 - 1, 2 * ox + t % 3 - 1) is float v)
                                    s += (double)v * g[((i * cout + o) * oh + oy) * ow + ox];
                    Assert.Equal(s, dWT[(t * cin + c) * cout + o], 1e-3);
                }
    }

    private static float? Input(float[] x, int i, int c, int cin, int h, int w, int iy, int ix) =>
        iy < 0 || iy >= h || ix < 0 || ix >= w ? null : x[((i * cin + c) * h + iy) * w + ix];
}
