using Lopper.Tensors.Kernels;
using Lopper.Tests.Graph;

namespace Lopper.Tests.Kernels;

/// <summary>
/// PositionTileConv256 (the Vector256 family's stride-1 position tiles) against a naive convolution, forced where
/// Vector512 is the widest family. Serial: the forced family is process-wide.
/// </summary>
[Collection(SerialGraphCollection.Name)]
public unsafe class PositionTileConv256Tests
{
    [Theory]
    [InlineData(8, 7, 28, 28, true, true)]     // a pruned first stage: blocks of 4 and 3, 784 positions in 49 chunks
    [InlineData(12, 12, 14, 14, false, true)]  // blocks of 6: 196 positions, a last chunk of 4
    [InlineData(9, 13, 7, 7, true, false)]     // blocks of 5, 4 and 4, chunks spanning several rows, a last chunk of 1
    [InlineData(5, 1, 1, 1, true, true)]       // one filter, one pixel: both neighbours masked, rows above and below guards
    [InlineData(3, 8, 3, 40, false, false)]    // rows wider than a chunk
    [InlineData(2, 3, 5, 1, false, true)]      // one column: every left and right neighbour masked
    [InlineData(1, 16, 6, 11, true, false)]    // a stem, rectangular: blocks of 6, 5 and 5
    public void MatchesNaiveConvolution(int cin, int cout, int h, int w, bool relu, bool withResidual)
    {
        foreach (var path in KernelTestData.Families(() => PositionTileConv256.Supported).Append(Gemm.KernelPath.Vector256).Distinct())
            KernelTestData.WithFamily(path, () =>
            {
                if (!PositionTileConv256.Supported) return;   // neither AVX2 with FMA nor a forced Vector256 family here
                var rng = new Random(cin * 7 + cout);
                float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
                float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * h * w) : null;
                var plan = PositionTileConv.Create256(weight, cout, cin);
                Assert.False(plan.Wide);
                var scratch = new float[PositionTileConv256.GuardedLength(cin, h, w)];
                var masks = PositionTileConv256.MasksFor(h, w);
                const int tail = 40;   // floats after the output that the last chunk's stores must leave alone
                for (int image = 0; image < 2; image++)
                {
                    var y = new float[cout * h * w + tail];
                    Array.Fill(y, float.NaN);
                    if (image == 1) for (int i = 0; i < x.Length; i++) x[i] = -x[i];   // the same scratch, a second image
                    fixed (float* xp = x, yp = y, sp = scratch, mp = masks, bp = bias, rp = residual)
                        PositionTileConv256.Forward(xp, h, w, plan, yp, sp, mp, bp, relu, rp);
                    KernelTestData.AssertImagesMatchNaive(x, weight, bias, residual, 1, cin, cout, h, w, relu, y, 1e-4);
                }
            });
    }

    [Fact]
    public void RefusesAPlanMadeForTheOtherFamily()
    {
        var plan = PositionTileConv.Create(new float[2 * 9], 2, 1);
        var scratch = new float[PositionTileConv256.GuardedLength(1, 4, 4)];
        var y = new float[2 * 16];
        var x = new float[16];
        KernelTestData.WithFamily(Gemm.KernelPath.Vector256, () =>
        {
            if (!PositionTileConv256.Supported) return;
            var masks = PositionTileConv256.MasksFor(4, 4);
            Assert.Throws<InvalidOperationException>(() =>
            {
                fixed (float* xp = x, yp = y, sp = scratch, mp = masks)
                    PositionTileConv256.Forward(xp, 4, 4, plan, yp, sp, mp);
            });
        });
    }
}
