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
        OnVector256(() =>
            {
                var rng = new Random(cin * 7 + cout);
                float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
                float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * h * w) : null;
                var plan = PositionTileConv.Create256(weight, cout, cin);
                Assert.False(plan.Wide);
                var scratch = new float[PositionTileConv256.GuardedLength(cin, h, w)];
                var masks = PositionTileConv256.MasksFor(h, w);
                KernelTestData.AssertTwoImagesMatchNaive(x, weight, bias, residual, cin, cout, h, w, relu, (xp, yp, bp, rp) =>
                {
                    fixed (float* sp = scratch, mp = masks) PositionTileConv256.Forward(xp, h, w, plan, yp, sp, mp, bp, relu, rp);
                });
            });
    }

    [Theory]
    [InlineData(16, 16, 28, 28, 0.5, true, true)]   // an SPP layer at half its columns: blocks of 6, 5 and 5
    [InlineData(29, 31, 14, 14, 0.3, false, true)]
    [InlineData(57, 64, 7, 7, 0.6, true, false)]
    [InlineData(4, 5, 6, 9, 0.9, false, false)]    // nearly all columns gone, no left-neighbour tap at all
    [InlineData(3, 8, 5, 1, 0.0, true, true)]      // every column kept, one-pixel-wide planes
    public void KeptColumnsMatchANaiveConvolutionWithTheOthersZero(int cin, int cout, int h, int w, double pruned, bool relu, bool withResidual)
    {
        var rng = new Random(13);
        var columns = Enumerable.Range(0, cin * 9).Where(_ => rng.NextDouble() >= pruned).ToArray();
        if (columns.Length == 0) columns = [4];
        if (pruned >= 0.9) columns = columns.Where(c => c % 3 != 0).ToArray();
        int k = columns.Length;
        float[] x = KernelTestData.Fill(rng, cin * h * w), kept = KernelTestData.Fill(rng, cout * k), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * h * w) : null;
        var dense = new float[cout * cin * 9];
        for (int o = 0; o < cout; o++)
            for (int j = 0; j < k; j++) dense[o * cin * 9 + columns[j]] = kept[o * k + j];
        OnVector256(() => AssertTapsMatchNaive(TapPlan.ForColumns(kept, cout, cin, columns, wide: false), x, dense, bias, residual, cin, cout, h, w, relu));
    }

    [Theory]
    [InlineData(32, 64, 7, 7, 4, true, true)]     // SNACS's third stage: groups of 4 filters reading the same channels
    [InlineData(16, 16, 28, 28, 2, false, true)]
    [InlineData(30, 32, 14, 14, 1, true, false)]  // every filter its own channel set
    public void SliceBlocksMatchANaiveConvolution(int cin, int cout, int h, int w, int group, bool relu, bool withResidual)
    {
        var rng = new Random(17);
        float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * h * w) : null;
        KernelTestData.ZeroSlicesByGroup(rng, weight, cout, cin, group);
        var plan = TapPlan.ForSlices(weight, cout, cin, wide: false);
        Assert.All(Enumerable.Range(0, plan.BlockCount), b => Assert.InRange(plan.BlockStarts[b + 1] - plan.BlockStarts[b], 1, PositionTileConv256.MaxBlock));
        Assert.True(plan.KeptShare <= plan.ComputedShare && plan.ComputedShare <= plan.CostShare && plan.CostShare < 1);
        OnVector256(() => AssertTapsMatchNaive(plan, x, weight, bias, residual, cin, cout, h, w, relu));
    }

    [Theory]
    [InlineData(12, 23, 28, 28, "dense", true, false)]   // a pruned first downsampling layer: 14x14 out
    [InlineData(22, 48, 14, 14, "columns", false, true)] // the second, at kept columns: 7x7 out, with a residual
    [InlineData(7, 9, 15, 13, "slices", true, true)]     // odd planes: the phases' missing last row and column stay zero
    [InlineData(3, 4, 1, 1, "dense", false, false)]      // one pixel
    public void Stride2TapListsMatchANaiveConvolution(int cin, int cout, int h, int w, string kind, bool relu, bool withResidual)
    {
        var rng = new Random(31);
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
        float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * oh * ow) : null;
        TapPlan plan;
        if (kind == "columns")
        {
            var columns = Enumerable.Range(0, cin * 9).Where(_ => rng.NextDouble() >= 0.5).ToArray();
            for (int o = 0; o < cout; o++)
                for (int j = 0; j < cin * 9; j++)
                    if (Array.IndexOf(columns, j) < 0) weight[o * cin * 9 + j] = 0f;
            var kept = new float[cout * columns.Length];
            for (int o = 0; o < cout; o++)
                for (int j = 0; j < columns.Length; j++) kept[o * columns.Length + j] = weight[o * cin * 9 + columns[j]];
            plan = TapPlan.ForColumns(kept, cout, cin, columns, wide: false);
        }
        else
        {
            if (kind == "slices")
                for (int o = 0; o < cout; o++)
                    for (int c = 0; c < cin; c++)
                        if ((o + c) % 3 == 0) Array.Clear(weight, (o * cin + c) * 9, 9);
            plan = kind == "slices" ? TapPlan.ForSlices(weight, cout, cin, wide: false) : TapPlan.ForColumns(weight, cout, cin, wide: false);
        }
        OnVector256(() =>
        {
            var scratch = new float[PositionTileConv256.PhasedLength(cin, oh, ow)];
            var masks = PositionTileConv256.MasksFor(oh, ow);
            KernelTestData.AssertTwoImagesMatchNaive(x, weight, bias, residual, cin, cout, h, w, relu, (xp, yp, bp, rp) =>
            {
                fixed (float* sp = scratch, mp = masks) PositionTileConv256.ForwardTapsStride2(xp, h, w, plan, yp, sp, mp, bp, relu, rp);
            }, stride: 2);
        });
    }

    // Runs a check on the Vector256 family where this machine can (natively, or forced on an AVX-512 part).
    private static void OnVector256(Action check) =>
        KernelTestData.WithFamily(Gemm.KernelPath.Vector256, () =>
        {
            if (PositionTileConv256.Supported) check();
        });

    // One image, twice on the same scratch (the second negated), through a tap plan against the naive convolution of
    // the dense weight it stands for; nothing past the output written.
    private static void AssertTapsMatchNaive(TapPlan plan, float[] x, float[] dense, float[] bias, float[]? residual, int cin, int cout, int h, int w, bool relu)
    {
        var scratch = new float[PositionTileConv256.GuardedLength(cin, h, w)];
        var masks = PositionTileConv256.MasksFor(h, w);
        KernelTestData.AssertTwoImagesMatchNaive(x, dense, bias, residual, cin, cout, h, w, relu, (xp, yp, bp, rp) =>
        {
            fixed (float* sp = scratch, mp = masks) PositionTileConv256.ForwardTaps(xp, h, w, plan, yp, sp, mp, bp, relu, rp);
        });
    }

    [Theory]
    [InlineData(8, 7, true)]      // a pruned first stage
    [InlineData(1, 16, true)]     // a stem
    [InlineData(8, 64, true)]     // few channels in, many out: Winograd's output transform outweighs its saving
    [InlineData(16, 16, false)]   // ResNet-20's first stage stays on Winograd
    [InlineData(64, 8, false)]
    [InlineData(32, 32, false)]
    public void TheCostModelSendsNarrowLayersHere(int inChannels, int outChannels, bool expected) =>
        Assert.Equal(expected, PositionTileConv256.Pays(inChannels, outChannels));

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
            var taps = TapPlan.ForColumns(new float[2 * 9], 2, 1);
            Assert.Throws<InvalidOperationException>(() =>
            {
                fixed (float* xp = x, yp = y, sp = scratch, mp = masks)
                    PositionTileConv256.ForwardTaps(xp, 4, 4, taps, yp, sp, mp);
            });
        });
    }
}
