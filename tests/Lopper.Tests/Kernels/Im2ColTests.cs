using Lopper.Tensors.Kernels;

namespace Lopper.Tests.Kernels;

/// <summary>
/// <see cref="Im2Col"/> against a direct per-element definition, <c>Im2Col.FoldAdd</c> as the adjoint of
/// <c>Im2Col.Unfold</c>, and the kept-row variants against the full matrices restricted to those rows.
/// </summary>
public unsafe class Im2ColTests
{
    // channels, h, w, kernel (kh), kw, stride, pad
    public static TheoryData<int, int, int, int, int, int, int> Shapes() => new()
    {
        { 2, 5, 4, 3, 3, 1, 1 },
        { 3, 7, 6, 3, 3, 2, 1 },
        { 2, 8, 8, 3, 3, 2, 1 },
        { 2, 6, 5, 1, 1, 2, 0 },
        { 3, 5, 5, 1, 1, 1, 0 },
        { 1, 9, 7, 3, 3, 1, 0 },
        { 2, 6, 6, 2, 2, 2, 0 },
        { 1, 11, 10, 5, 5, 1, 2 },
        { 2, 10, 9, 3, 2, 3, 1 },
        { 1, 3, 3, 3, 3, 1, 2 },
        { 2, 37, 41, 3, 3, 2, 1 },
        { 1, 40, 40, 3, 3, 1, 1 },
        { 1, 4, 4, 5, 5, 1, 3 },
        // "Same" convolutions wider than 16: the shifted block-copy path.
        { 2, 20, 28, 3, 3, 1, 1 },
        { 1, 28, 28, 5, 5, 1, 2 },
        { 3, 17, 18, 3, 3, 1, 1 },
        { 1, 30, 19, 7, 7, 1, 3 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void UnfoldMatchesDirect(int channels, int h, int w, int kh, int kw, int stride, int pad)
    {
        var (outH, outW) = OutSize(h, w, kh, kw, stride, pad);
        var image = Fill(new Random(1), channels * h * w);
        var cols = Fill(new Random(2), channels * kh * kw * outH * outW);   // garbage that must be overwritten
        fixed (float* ip = image, cp = cols)
            Im2Col.Unfold(ip, channels, h, w, kh, kw, stride, pad, outH, outW, cp);
        Assert.Equal(Direct(image, channels, h, w, kh, kw, stride, pad, outH, outW), cols);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FoldAddIsTheAdjointOfUnfold(int channels, int h, int w, int kh, int kw, int stride, int pad)
    {
        var (outH, outW) = OutSize(h, w, kh, kw, stride, pad);
        var rng = new Random(3);
        var x = Fill(rng, channels * h * w);
        var y = Fill(rng, channels * kh * kw * outH * outW);
        var ux = new float[y.Length];
        var fy = Fill(rng, x.Length);
        var start = (float[])fy.Clone();
        fixed (float* xp = x, yp = y, uxp = ux, fyp = fy)
        {
            Im2Col.Unfold(xp, channels, h, w, kh, kw, stride, pad, outH, outW, uxp);
            Im2Col.FoldAdd(yp, channels, h, w, kh, kw, stride, pad, outH, outW, fyp);
        }
        // FoldAdd adds into the image: subtract what was there to get FoldAdd(y) alone.
        double lhs = 0, rhs = 0, mag = 0;
        for (int i = 0; i < y.Length; i++) { lhs += (double)ux[i] * y[i]; mag += Math.Abs((double)ux[i] * y[i]); }
        for (int i = 0; i < x.Length; i++) rhs += (double)x[i] * ((double)fy[i] - start[i]);
        Assert.True(Math.Abs(lhs - rhs) <= 1e-5 * (mag + 1), $"<Unfold x, y> = {lhs}, <x, FoldAdd y> = {rhs}");

        // And exactly: FoldAdd(y) equals the direct scatter of y.
        var expect = (float[])start.Clone();
        var map = Direct(Enumerable.Range(0, x.Length).Select(i => (float)i).ToArray(), channels, h, w, kh, kw, stride, pad, outH, outW, index: true);
        var sum = new double[x.Length];
        for (int i = 0; i < map.Length; i++)
            if (map[i] >= 0) sum[(int)map[i]] += y[i];
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(fy[i] - (start[i] + sum[i])) <= 1e-5 * (1 + Math.Abs(sum[i])), $"image[{i}]");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ColumnSubsetsMatchFullMatrix(int channels, int h, int w, int kh, int kw, int stride, int pad)
    {
        var (outH, outW) = OutSize(h, w, kh, kw, stride, pad);
        int rows = channels * kh * kw, plane = outH * outW;
        var rng = new Random(4);
        // Every other row, backwards, plus the first row again: order and repeats must be honoured.
        var kept = Enumerable.Range(0, rows).Where(r => r % 2 == 1).Reverse().Append(0).ToArray();
        var image = Fill(rng, channels * h * w);
        var full = new float[rows * plane];
        var part = Fill(rng, kept.Length * plane);
        fixed (float* ip = image, fp = full, pp = part)
        {
            Im2Col.Unfold(ip, channels, h, w, kh, kw, stride, pad, outH, outW, fp);
            Im2Col.UnfoldColumns(ip, channels, h, w, kh, kw, stride, pad, outH, outW, kept, pp);
        }
        for (int t = 0; t < kept.Length; t++)
            Assert.Equal(full.AsSpan(kept[t] * plane, plane).ToArray(), part.AsSpan(t * plane, plane).ToArray());

        // FoldAddColumns(y) == FoldAdd of y scattered into the kept rows of a zero matrix.
        var y = Fill(rng, kept.Length * plane);
        var scattered = new float[rows * plane];
        for (int t = 0; t < kept.Length; t++)
            for (int i = 0; i < plane; i++) scattered[kept[t] * plane + i] += y[t * plane + i];
        var viaFull = new float[image.Length];
        var viaPart = new float[image.Length];
        fixed (float* yp = y, sp = scattered, a = viaFull, b = viaPart)
        {
            Im2Col.FoldAdd(sp, channels, h, w, kh, kw, stride, pad, outH, outW, a);
            Im2Col.FoldAddColumns(yp, channels, h, w, kh, kw, stride, pad, outH, outW, kept, b);
        }
        for (int i = 0; i < image.Length; i++)
            Assert.True(Math.Abs(viaFull[i] - viaPart[i]) <= 1e-5f * (1 + Math.Abs(viaFull[i])), $"image[{i}]: {viaFull[i]} vs {viaPart[i]}");
    }

    [Fact]
    public void ColumnSubsetRejectsRowsOutOfRange()
    {
        var image = new float[4];
        var cols = new float[4];
        Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            fixed (float* ip = image, cp = cols)
                Im2Col.UnfoldColumns(ip, 1, 2, 2, 1, 1, 1, 0, 2, 2, [1], cp);
        });
        Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            fixed (float* ip = image, cp = cols)
                Im2Col.FoldAddColumns(cp, 1, 2, 2, 1, 1, 1, 0, 2, 2, [-1], ip);
        });
    }

    private static (int, int) OutSize(int h, int w, int kh, int kw, int stride, int pad) =>
        ((h + 2 * pad - kh) / stride + 1, (w + 2 * pad - kw) / stride + 1);

    // The definition, one element at a time. With index, writes the flat image index read (or -1 for
    // padding) instead of the value.
    private static float[] Direct(float[] image, int channels, int h, int w, int kh, int kw, int stride, int pad,
        int outH, int outW, bool index = false)
    {
        var cols = new float[channels * kh * kw * outH * outW];
        int i = 0;
        for (int c = 0; c < channels; c++)
        for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++)
        for (int oy = 0; oy < outH; oy++)
        for (int ox = 0; ox < outW; ox++, i++)
        {
            int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
            bool inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
            int at = (c * h + iy) * w + ix;
            cols[i] = index ? (inside ? at : -1) : (inside ? image[at] : 0f);
        }
        return cols;
    }

    private static float[] Fill(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
