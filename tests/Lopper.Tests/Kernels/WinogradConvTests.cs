using Lopper.Tensors.Kernels;
using Lopper.Tests.Graph;

namespace Lopper.Tests.Kernels;

/// <summary>
/// WinogradConv (F(2x2, 3x3) over groups of tiles) against a naive convolution of each image, on each kernel family
/// the hardware runs: the widest, and the Vector256 one (WinogradConv256) forced where Vector512 is the widest.
/// Serial: the forced family is process-wide.
/// </summary>
[Collection(SerialGraphCollection.Name)]
public unsafe class WinogradConvTests
{
    [Theory]
    [InlineData(16, 16, 28, 28, 2, true, true)]     // 14 tiles a row: one vector of tiles, two lanes spilling into the next row
    [InlineData(64, 64, 7, 7, 5, true, false)]     // odd plane: the last tile row and column half outside; groups span images
    [InlineData(13, 27, 14, 14, 3, false, true)]   // filters in blocks of 12 with a tail of 3
    [InlineData(5, 3, 1, 1, 2, true, true)]        // one pixel: every tap but the centre in the padding
    [InlineData(3, 14, 9, 40, 1, false, false)]    // 20 tiles a row: two vectors, the second mostly empty
    [InlineData(8, 12, 2, 70, 2, true, true)]      // 35 tiles a row: three vectors, an odd last column
    [InlineData(40, 24, 5, 3, 7, false, true)]     // many short groups spanning images
    [InlineData(200, 20, 6, 6, 1, false, false)]   // deep: a group of fewer tiles than a GEMM panel
    [InlineData(32, 32, 16, 16, 2, true, true)]    // Vector256: 8 tiles a row, one vector exactly
    [InlineData(7, 13, 10, 17, 2, true, false)]    // Vector256: 9 tiles a row (a second vector of one), filters 6 + 6 + 1
    [InlineData(9, 7, 8, 8, 3, true, true)]        // Vector256: 4 tiles a row, two rows to a vector
    [InlineData(6, 10, 5, 7, 3, false, true)]      // Vector256: 3 tile rows a plane, so pairs span images
    [InlineData(120, 100, 7, 7, 3, true, true)]    // Vector256: groups of a few rows, some odd (a row paired with itself)
    public void MatchesNaiveConvolution(int cin, int cout, int h, int w, int images, bool relu, bool withResidual)
    {
        foreach (var path in Families())
            KernelTestData.WithFamily(path, () => CheckNaive(cin, cout, h, w, images, relu, withResidual));
    }

    private static IEnumerable<Gemm.KernelPath> Families() => KernelTestData.Families(() => WinogradConv.Supported);

    private static void CheckNaive(int cin, int cout, int h, int w, int images, bool relu, bool withResidual)
    {
        var rng = new Random(23);
        int inImage = cin * h * w, outImage = cout * h * w;
        float[] x = KernelTestData.Fill(rng, images * inImage), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, images * outImage) : null;
        var plan = WinogradConv.Prepare(weight, cout, cin);
        const int tail = 40;   // floats after the output that the masked stores must leave alone
        var y = new float[images * outImage + tail];
        Array.Fill(y, float.NaN);
        fixed (float* xp = x, yp = y, bp = bias, rp = residual)
            WinogradConv.Forward(xp, images, h, w, plan, yp, bp, relu, rp);
        // The transforms round differently from a direct sum: allow for the depth's accumulated rounding.
        KernelTestData.AssertImagesMatchNaive(x, weight, bias, residual, images, cin, cout, h, w, relu, y, 2e-5 * cin * 9);
    }

    [Theory]
    [InlineData(12, 9, 7, 7, 3)]     // 4 tiles a row: on Vector256 two rows a vector, the ranges starting on odd rows
    [InlineData(10, 8, 14, 14, 2)]   // 7 tiles a row
    public void TileRowRangesGiveTheWholeCallsBits(int cin, int cout, int h, int w, int images)
    {
        foreach (var path in Families())
            KernelTestData.WithFamily(path, () =>
            {
                var rng = new Random(29);
                float[] x = KernelTestData.Fill(rng, images * cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
                var residual = KernelTestData.Fill(rng, images * cout * h * w);
                var plan = WinogradConv.Prepare(weight, cout, cin);
                var whole = new float[images * cout * h * w];
                var pieces = new float[whole.Length];
                int rows = WinogradConv.TileRows(images, h);
                fixed (float* xp = x, yp = whole, zp = pieces, bp = bias, rp = residual)
                {
                    WinogradConv.Forward(xp, images, h, w, plan, yp, bp, true, rp);
                    foreach (var (first, end) in new[] { (0, 3), (3, 8), (8, rows) })
                        WinogradConv.Forward(xp, images, h, w, plan, zp, bp, true, rp, first, end);
                }
                Assert.Equal(whole, pieces);
            });
    }

    [Fact]
    public void StaleScratchFromAnEarlierCallDoesNotReachTheOutputs()
    {
        foreach (var path in Families()) KernelTestData.WithFamily(path, CheckStaleScratch);
    }

    [Fact]
    public void APlanPackedForAnotherFamilyIsRefused()
    {
        if (!Families().Contains(Gemm.KernelPath.Vector256)) return;   // one family here
        var plan = WinogradConv.Prepare(new float[9], 1, 1);
        var x = new float[4];
        var y = new float[4];
        KernelTestData.WithFamily(Gemm.KernelPath.Vector256, () =>
        {
            fixed (float* xp = x, yp = y)
            {
                float* xq = xp, yq = yp;
                Assert.Throws<InvalidOperationException>(() => WinogradConv.Forward(xq, 1, 2, 2, plan, yq));
            }
        });
    }

    private static void CheckStaleScratch()
    {
        // The scratch is pooled by length: a first call on NaN images leaves NaN in the V and M lanes past the last
        // tile, which the second call's last GEMM panel reads again; they must stay in lanes that are never stored.
        var rng = new Random(5);
        int cin = 6, cout = 7, h = 7, w = 9, images = 3;
        float[] weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
        var plan = WinogradConv.Prepare(weight, cout, cin);
        var poisoned = new float[images * cin * h * w];
        Array.Fill(poisoned, float.NaN);
        var x = KernelTestData.Fill(rng, images * cin * h * w);
        var y = new float[images * cout * h * w];
        fixed (float* pp = poisoned, xp = x, yp = y, bp = bias)
        {
            WinogradConv.Forward(pp, images, h, w, plan, yp, bp);
            WinogradConv.Forward(xp, images, h, w, plan, yp, bp);
        }
        KernelTestData.AssertImagesMatchNaive(x, weight, bias, null, images, cin, cout, h, w, false, y, 1e-4);
    }
}
