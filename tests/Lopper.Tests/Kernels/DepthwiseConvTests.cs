using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Tests.Kernels;

/// <summary>The depthwise kernel's forward, input gradient and weight/bias gradient against a naive double-precision reference.</summary>
public class DepthwiseConvTests
{
    // (batch, channels, multiplier, height, width, kernel, stride, padding, dilation)
    public static TheoryData<int, int, int, int, int, int, int, int, int> Shapes => new()
    {
        { 2, 3, 1, 5, 7, 3, 1, 1, 1 },
        { 2, 3, 1, 7, 5, 3, 2, 1, 1 },
        { 1, 2, 2, 9, 9, 3, 1, 1, 1 },      // multiplier 2
        { 2, 2, 1, 11, 13, 5, 1, 2, 1 },
        { 1, 3, 1, 12, 12, 5, 2, 2, 1 },
        { 2, 2, 1, 9, 10, 3, 1, 2, 2 },     // dilation 2
        { 1, 2, 1, 1, 1, 1, 1, 0, 1 },      // 1x1 planes
        { 1, 2, 1, 1, 1, 3, 1, 1, 1 },
        { 2, 2, 1, 33, 33, 3, 1, 1, 1 },
        { 2, 2, 1, 33, 33, 3, 2, 1, 1 },    // stride 2, odd padding, rows long enough for the vector deinterleave
        { 1, 2, 1, 40, 70, 3, 2, 0, 1 },    // stride 2, even padding, two vector steps per row
        { 1, 2, 3, 8, 8, 7, 1, 3, 1 },      // k 7, multiplier 3
        { 1, 2, 1, 10, 9, 7, 2, 3, 1 },
        { 1, 2, 1, 6, 6, 3, 3, 0, 1 },      // stride 3
        { 1, 1, 2, 16, 16, 1, 2, 0, 1 },    // k 1 stride 2: three phases no tap reads
        { 1, 2, 1, 9, 9, 3, 2, 0, 2 },      // stride 2 dilation 2: all taps in one phase
        { 1, 2, 2, 17, 15, 5, 2, 2, 2 },
        { 1, 2, 1, 3, 3, 3, 1, 2, 1 },      // padding 2 on a 3x3 plane
        { 3, 5, 1, 4, 4, 3, 1, 1, 1 },      // MobileNet's small late planes
        { 2, 3, 1, 16, 16, 3, 1, 1, 1 },
        // Output planes of at most 16 positions (SmallPlane): inputs of up to 32 floats through lane permutations,
        // larger ones through gathers; batches of many planes so that runs end inside the tensor.
        { 3, 7, 1, 7, 7, 3, 2, 1, 1 },      // MobileNet's 7x7 -> 4x4 at stride 2 (gathers)
        { 2, 3, 2, 4, 4, 3, 1, 1, 1 },      // 4x4, multiplier 2
        { 4, 5, 1, 2, 2, 3, 1, 1, 1 },      // 2x2
        { 2, 3, 1, 5, 4, 3, 2, 1, 1 },      // 20 inputs -> 3x2
        { 2, 3, 1, 4, 4, 5, 1, 2, 1 },      // 25 taps
        { 2, 3, 1, 4, 4, 3, 1, 2, 2 },      // dilation 2
        { 2, 3, 1, 9, 9, 3, 3, 1, 1 },      // 81 inputs -> 3x3 at stride 3 (gathers)
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheReference(int n, int c, int m, int h, int w, int k, int s, int p, int d)
    {
        var g = new DepthwiseGeometry(n, c, m, h, w, k, s, p, d);
        Check(g, bias: true);
        Check(g, bias: false);
        DepthwiseConv.ForceScalar = true;
        try { Check(g, bias: true); }
        finally { DepthwiseConv.ForceScalar = false; }
    }

    [Fact]
    public void RejectsImpossibleGeometry()
    {
        Assert.Throws<LopperInputException>(() => new DepthwiseGeometry(1, 1, 1, 2, 2, 3).Validate());
        Assert.Throws<LopperInputException>(() => new DepthwiseGeometry(1, 1, 1, 4, 4, 3, Stride: 0).Validate());
        Assert.Throws<LopperInputException>(() => new DepthwiseGeometry(1, 1, 0, 4, 4, 3).Validate());
        Assert.Throws<LopperInputException>(() => new DepthwiseGeometry(1, 1, 1, 4, 4, 3, Padding: -1).Validate());
        new DepthwiseGeometry(1, 1, 1, 2, 2, 3, Padding: 1).Validate();
    }

    private static float[] Random(Rng rng, long length)
    {
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextNormal();
        return a;
    }

    private static void Check(DepthwiseGeometry g, bool bias)
    {
        var rng = new Rng(301);
        var x = Random(rng, g.InputLength);
        var w = Random(rng, g.WeightLength);
        var b = bias ? Random(rng, g.OutChannels) : [];
        var dy = Random(rng, g.OutputLength);
        // Outputs start as garbage: every kernel must write, not add.
        // and nothing past the output may be written (a sentinel tail after it).
        var yTail = new float[g.OutputLength + 32]; Array.Fill(yTail, float.NaN);
        yTail.AsSpan((int)g.OutputLength).Fill(12345f);
        var dx = new float[g.InputLength]; Array.Fill(dx, float.NaN);
        var dw = new float[g.WeightLength]; Array.Fill(dw, float.NaN);
        var db = bias ? new float[g.OutChannels] : []; Array.Fill(db, float.NaN);
        DepthwiseConv.Forward(x, w, b, yTail.AsSpan(0, (int)g.OutputLength), g);
        Assert.All(yTail.AsSpan((int)g.OutputLength).ToArray(), v => Assert.Equal(12345f, v));
        var y = yTail[..(int)g.OutputLength];
        DepthwiseConv.InputGradient(dy, w, dx, g);
        DepthwiseConv.WeightGradient(x, dy, dw, db, g);

        var (ry, ryAbs, rdx, rdxAbs, rdw, rdwAbs, rdb) = Reference(g, x, w, b, dy);
        AssertClose(ry, ryAbs, y, "y", g);
        AssertClose(rdx, rdxAbs, dx, "dx", g);
        AssertClose(rdw, rdwAbs, dw, "dw", g);
        if (bias) AssertClose(rdb, rdb.Select(Math.Abs).ToArray(), db, "db", g);
    }

    // Float error scales with the sum of the magnitudes of the terms summed.
    private static void AssertClose(double[] expected, double[] magnitude, float[] actual, string what, DepthwiseGeometry g)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (!(Math.Abs(expected[i] - actual[i]) <= 1e-5 * (1 + magnitude[i])))
                Assert.Fail($"{what}[{i}] = {actual[i]}, reference {expected[i]} ({g}, scalar {DepthwiseConv.ForceScalar})");
    }

    // Direct loops over every (output, tap) pair, in double.
    private static (double[] Y, double[] YAbs, double[] Dx, double[] DxAbs, double[] Dw, double[] DwAbs, double[] Db) Reference(
        DepthwiseGeometry g, float[] x, float[] w, float[] b, float[] dy)
    {
        int oh = g.OutHeight, ow = g.OutWidth, k = g.Kernel, co = g.OutChannels;
        var y = new double[g.OutputLength]; var yAbs = new double[y.Length];
        var dx = new double[g.InputLength]; var dxAbs = new double[dx.Length];
        var dw = new double[g.WeightLength]; var dwAbs = new double[dw.Length];
        var db = new double[co];
        for (int n = 0; n < g.Batch; n++)
            for (int oc = 0; oc < co; oc++)
            {
                int ic = oc / g.Multiplier;
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        int yi = ((n * co + oc) * oh + oy) * ow + ox;
                        y[yi] = b.Length > 0 ? b[oc] : 0;
                        yAbs[yi] = Math.Abs(y[yi]);
                        db[oc] += dy[yi];
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                            {
                                int iy = oy * g.Stride - g.Padding + ky * g.Dilation, ix = ox * g.Stride - g.Padding + kx * g.Dilation;
                                if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                                int xi = ((n * g.Channels + ic) * g.Height + iy) * g.Width + ix, wi = (oc * k + ky) * k + kx;
                                double prod = (double)w[wi] * x[xi];
                                y[yi] += prod; yAbs[yi] += Math.Abs(prod);
                                double gx = (double)w[wi] * dy[yi];
                                dx[xi] += gx; dxAbs[xi] += Math.Abs(gx);
                                double gw = (double)x[xi] * dy[yi];
                                dw[wi] += gw; dwAbs[wi] += Math.Abs(gw);
                            }
                    }
            }
        return (y, yAbs, dx, dxAbs, dw, dwAbs, db);
    }
}

/// <summary>The kernel's results do not depend on the thread count (it changes the process-wide budget, so it runs serially).</summary>
[Collection(Lopper.Tests.Graph.SerialGraphCollection.Name)]
public class DepthwiseConvThreadTests
{
    [Fact]
    public void OneAndTwoThreadsGiveBitIdenticalResults()
    {
        var g = new DepthwiseGeometry(6, 5, 2, 9, 11, 3, 2, 1);
        var rng = new Rng(302);
        float[] R(long n) { var a = new float[n]; for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextNormal(); return a; }
        float[] x = R(g.InputLength), w = R(g.WeightLength), b = R(g.OutChannels), dy = R(g.OutputLength);
        float[][] Run(int threads)
        {
            using var scope = new Lopper.Tests.Graph.ThreadsScope(threads);
            float[] y = new float[g.OutputLength], dx = new float[g.InputLength], dw = new float[g.WeightLength], db = new float[g.OutChannels];
            DepthwiseConv.Forward(x, w, b, y, g);
            DepthwiseConv.InputGradient(dy, w, dx, g);
            DepthwiseConv.WeightGradient(x, dy, dw, db, g);
            return [y, dx, dw, db];
        }
        var one = Run(1);
        var two = Run(2);
        for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], two[i]);
    }
}
