using Lopper.Tensors.Kernels;

namespace Lopper.Tests.Kernels;

/// <summary>Inputs, the naive references and the kernel families the convolution kernel tests share.</summary>
internal static class KernelTestData
{
    /// <summary>
    /// The kernel families a test covers here: the widest (Auto) and, where Vector512 is the widest, the Vector256 one
    /// of AVX2 parts, forced; each only where <paramref name="runs"/>, asked under it, says the kernel runs. Tests that
    /// force a family belong to the serial collection: the forced family is process-wide.
    /// </summary>
    public static IEnumerable<Gemm.KernelPath> Families(Func<bool> runs)
    {
        if (WithFamily(Gemm.KernelPath.Auto, runs)) yield return Gemm.KernelPath.Auto;
        if (Gemm.RowsSupported && WithFamily(Gemm.KernelPath.Vector256, runs)) yield return Gemm.KernelPath.Vector256;
    }

    /// <summary>Runs <paramref name="run"/> with <see cref="Gemm.ForcedPath"/> set to <paramref name="path"/>, then restores it.</summary>
    public static T WithFamily<T>(Gemm.KernelPath path, Func<T> run)
    {
        var saved = Gemm.ForcedPath;
        Gemm.ForcedPath = path;
        try { return run(); }
        finally { Gemm.ForcedPath = saved; }
    }

    /// <inheritdoc cref="WithFamily{T}"/>
    public static void WithFamily(Gemm.KernelPath path, Action run) => WithFamily(path, () => { run(); return 0; });

    /// <summary>The stride-1 "same" convolution (odd kernel k, padding (k-1)/2, no bias) of one [cin, h, w] image, in double.</summary>
    public static double[] NaiveSame(float[] x, float[] weight, int cin, int cout, int h, int w, int k)
    {
        int p = (k - 1) / 2;
        var y = new double[cout * h * w];
        for (int o = 0; o < cout; o++)
            for (int oy = 0; oy < h; oy++)
                for (int ox = 0; ox < w; ox++)
                {
                    double s = 0;
                    for (int c = 0; c < cin; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                            {
                                int iy = oy + ky - p, ix = ox + kx - p;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                s += (double)x[(c * h + iy) * w + ix] * weight[((o * cin + c) * k + ky) * k + kx];
                            }
                    y[(o * h + oy) * w + ox] = s;
                }
        return y;
    }

    /// <summary>n floats uniform in [-1, 1).</summary>
    public static float[] Fill(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>
    /// Zeros kernel slices of a [cout, cin*9] weight as SNACS leaves a layer: filters in groups of
    /// <paramref name="group"/> read the same random half of the input channels, the groups interleaved (filter o in
    /// group o mod groups), so a plan must sort the filters back together.
    /// </summary>
    public static void ZeroSlicesByGroup(Random rng, float[] weight, int cout, int cin, int group)
    {
        int groups = (cout + group - 1) / group;
        var reads = Enumerable.Range(0, groups).Select(_ => Enumerable.Range(0, cin).Select(_ => rng.NextDouble() < 0.5).ToArray()).ToArray();
        for (int o = 0; o < cout; o++)
            for (int c = 0; c < cin; c++)
                if (!reads[o % groups][c]) Array.Clear(weight, (o * cin + c) * 9, 9);
    }

    /// <summary>One image's forward pass into y (pointers into the pinned arrays; bias and residual null when absent).</summary>
    public unsafe delegate void ImageForward(float* x, float* y, float* bias, float* residual);

    /// <summary>
    /// Runs one image through <paramref name="forward"/> twice on whatever scratch it holds, the second time negated (so
    /// what the first left in the scratch must not reach the output), each time against the naive padding-1 3x3
    /// convolution of <paramref name="dense"/> at the stride, with nothing written past the output.
    /// </summary>
    public static unsafe void AssertTwoImagesMatchNaive(float[] x, float[] dense, float[] bias, float[]? residual, int cin, int cout, int h, int w,
        bool relu, ImageForward forward, int stride = 1)
    {
        int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
        const int tail = 40;   // floats after the output that a last partial chunk's stores must leave alone
        for (int image = 0; image < 2; image++)
        {
            var y = new float[cout * oh * ow + tail];
            Array.Fill(y, float.NaN);
            if (image == 1) for (int i = 0; i < x.Length; i++) x[i] = -x[i];
            fixed (float* xp = x, yp = y, bp = bias, rp = residual) forward(xp, yp, bp, rp);
            AssertImagesMatchNaive(x, dense, bias, residual, 1, cin, cout, h, w, relu, y, 1e-4, stride);
        }
    }

    /// <summary>
    /// Asserts that y holds, image by image, the padding-1 3x3 convolution of x (images of [cin, h, w] into
    /// [cout, oh, ow]) at the given stride within <paramref name="tolerance"/>, and that the floats after the last image
    /// are still NaN.
    /// </summary>
    public static void AssertImagesMatchNaive(float[] x, float[] weight, float[] bias, float[]? residual, int images, int cin, int cout,
        int h, int w, bool relu, float[] y, double tolerance, int stride = 1)
    {
        int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1, inImage = cin * h * w, outImage = cout * oh * ow;
        for (int n = 0; n < images; n++)
        {
            var image = x.AsSpan(n * inImage, inImage).ToArray();
            var res = residual?.AsSpan(n * outImage, outImage).ToArray();
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        Assert.Equal(NaiveConv3x3(image, weight, bias, res, cin, h, w, stride, relu, o, oy, ox), y[n * outImage + (o * oh + oy) * ow + ox], tolerance);
        }
        for (int i = images * outImage; i < y.Length; i++) Assert.True(float.IsNaN(y[i]), $"wrote past the output at {i - images * outImage}");
    }

    /// <summary>
    /// Output (o, oy, ox) of a 3x3 convolution with padding 1 and the given stride, in double: the bias, the
    /// residual (laid out as the output) when given, and a ReLU when asked.
    /// </summary>
    public static double NaiveConv3x3(float[] x, float[] weight, float[] bias, float[]? residual, int cin, int h, int w, int stride,
        bool relu, int o, int oy, int ox)
    {
        int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
        double s = bias[o] + (residual?[(o * oh + oy) * ow + ox] ?? 0);
        for (int c = 0; c < cin; c++)
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                {
                    int iy = stride * oy + ky - 1, ix = stride * ox + kx - 1;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                    s += (double)x[(c * h + iy) * w + ix] * weight[((o * cin + c) * 3 + ky) * 3 + kx];
                }
        return relu ? Math.Max(s, 0) : s;
    }
}
