using Lopper.Tensors.Kernels;
using Lopper.Tests.Graph;

namespace Lopper.Tests.Kernels;

/// <summary>
/// PaddedConv's GEMM on padded rows (no packed weight: the path of every stride-1 same convolution on AVX2 parts, and
/// of widths the direct tiles would waste lanes on) against a naive convolution in double, forward and backward, on
/// each kernel family the hardware runs: the widest, and the Vector256 one forced where Vector512 is the widest.
/// Serial: the forced family is process-wide.
/// </summary>
[Collection(SerialGraphCollection.Name)]
public unsafe class PaddedRowsConvTests
{
    [Theory]
    [InlineData(3, 16, 28, 28, 3)]   // ResNet-20's first stage shape at a few channels: 16 rows = 6 + 6 + 4 on Vector256
    [InlineData(5, 7, 9, 11, 3)]     // odd plane; 7 filters = 4 + 3 rows on Vector256
    [InlineData(6, 8, 14, 13, 3)]    // a pruned layer's 8 filters = 4 + 4; rows of 13 copied out in overlapping steps
    [InlineData(4, 13, 6, 5, 5)]     // 5x5 kernel, pitch of 7
    [InlineData(2, 3, 1, 1, 3)]      // one pixel: a packed column remainder only
    public void ForwardMatchesNaive(int cin, int cout, int h, int w, int k)
    {
        foreach (var path in KernelTestData.Families(() => PaddedConv.Applies(k, 1, (k - 1) / 2, w)))
            KernelTestData.WithFamily(path, () =>
            {
                var rng = new Random(cin * 31 + cout + h);
                float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * k * k);
                float[] bias = KernelTestData.Fill(rng, cout), residual = KernelTestData.Fill(rng, cout * h * w);
                var y = new float[cout * h * w];
                Array.Fill(y, float.NaN);
                var padded = new float[PaddedConv.PaddedLength(cin, h, w, k)];
                var rows = new nint[cin * k * k];
                fixed (float* xp = x, wp = weight, yp = y, pp = padded, bp = bias, rp = residual)
                fixed (nint* rowsp = rows)
                    PaddedConv.Forward(xp, cin, h, w, k, wp, null, cout, yp, pp, (float**)rowsp, bp, relu: true, rp);
                var expected = KernelTestData.NaiveSame(x, weight, cin, cout, h, w, k);
                for (int i = 0; i < y.Length; i++)
                    Assert.True(Math.Abs(Math.Max(expected[i] + bias[i / (h * w)] + residual[i], 0) - y[i]) <= 1e-4, $"{path}: y[{i}] = {y[i]}");
                // The weight packed once beforehand (as Conv2dOp does for a batch) gives the same bits.
                var packedWeight = new float[Gemm.PackedRowsLength(cout, cin * k * k)];
                var again = new float[y.Length];
                fixed (float* xp = x, wp = weight, kw = packedWeight, yp = again, pp = padded, bp = bias, rp = residual)
                fixed (nint* rowsp = rows)
                {
                    Gemm.PackRows(cout, cin * k * k, wp, cin * k * k, kw);
                    PaddedConv.Forward(xp, cin, h, w, k, kw, null, cout, yp, pp, (float**)rowsp, bp, relu: true, rp, weightPacked: true);
                }
                Assert.Equal(y, again);
                // And split by output rows over threads (an image served alone): the same bits again.
                foreach (int parts in new[] { 2, 3 })
                {
                    Array.Fill(again, float.NaN);
                    fixed (float* xp = x, kw = packedWeight, yp = again, pp = padded, bp = bias, rp = residual)
                        PaddedConv.ForwardSplitRowsGemm(xp, cin, h, w, k, kw, cout, yp, pp, parts, bp, relu: true, rp);
                    Assert.Equal(y, again);
                }
            });
    }

    [Theory]
    [InlineData(3, 16, 28, 28, 3)]
    [InlineData(7, 5, 9, 11, 3)]
    [InlineData(4, 13, 6, 5, 5)]
    public void BackwardMatchesNaive(int cin, int cout, int h, int w, int k)
    {
        foreach (var path in KernelTestData.Families(() => PaddedConv.Applies(k, 1, (k - 1) / 2, w)))
            KernelTestData.WithFamily(path, () =>
            {
                var rng = new Random(cin * 17 + cout + w);
                int taps = k * k, p = (k - 1) / 2;
                float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * taps), dy = KernelTestData.Fill(rng, cout * h * w);
                var flipped = new float[cin * cout * taps];
                PaddedConv.FlipTranspose(weight, cout, cin, k, flipped);
                var dx = new float[cin * h * w];
                var dWT = new float[taps * cin * cout];
                var paddedGrad = new float[PaddedConv.PaddedLength(cout, h, w, k)];
                var paddedX = new float[PaddedConv.PaddedLength(cin, h, w, k)];
                var rows = new nint[cout * taps];
                fixed (float* xp = x, gp = dy, fp = flipped, dxp = dx, dwp = dWT, pg = paddedGrad, px = paddedX)
                fixed (nint* rowsp = rows)
                    PaddedConv.Backward(xp, gp, cin, cout, h, w, k, fp, null, dxp, dwp, pg, px, (float**)rowsp);
                for (int c = 0; c < cin; c++)
                    for (int iy = 0; iy < h; iy++)
                        for (int ix = 0; ix < w; ix++)
                        {
                            double s = 0;
                            for (int o = 0; o < cout; o++)
                                for (int ky = 0; ky < k; ky++)
                                    for (int kx = 0; kx < k; kx++)
                                    {
                                        int oy = iy - ky + p, ox = ix - kx + p;
                                        if (oy < 0 || oy >= h || ox < 0 || ox >= w) continue;
                                        s += (double)dy[(o * h + oy) * w + ox] * weight[((o * cin + c) * k + ky) * k + kx];
                                    }
                            Assert.True(Math.Abs(s - dx[(c * h + iy) * w + ix]) <= 1e-4, $"{path}: dx[{c},{iy},{ix}] = {dx[(c * h + iy) * w + ix]}, expected {s}");
                        }
                for (int o = 0; o < cout; o++)
                    for (int c = 0; c < cin; c++)
                        for (int t = 0; t < taps; t++)
                        {
                            int ky = t / k, kx = t % k;
                            double s = 0;
                            for (int oy = 0; oy < h; oy++)
                                for (int ox = 0; ox < w; ox++)
                                {
                                    int iy = oy + ky - p, ix = ox + kx - p;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    s += (double)dy[(o * h + oy) * w + ox] * x[(c * h + iy) * w + ix];
                                }
                            float got = dWT[(t * cin + c) * cout + o];
                            Assert.True(Math.Abs(s - got) <= 1e-3 * (1 + Math.Abs(s)), $"{path}: dW[{o},{c},{t}] = {got}, expected {s}");
                        }
            });
    }
}
