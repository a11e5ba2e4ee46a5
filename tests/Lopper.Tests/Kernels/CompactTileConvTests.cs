using Lopper.Tensors.Kernels;

namespace Lopper.Tests.Kernels;

/// <summary>CompactTileConv (stride-1 position tiles on the unpadded planes) against a naive convolution.</summary>
public unsafe class CompactTileConvTests
{
    [Theory]
    [InlineData(12, 11, 28, 28, true, true)]   // a pruned first stage: blocks of 6 and 5, 784 positions in 24.5 chunks
    [InlineData(22, 21, 14, 14, false, true)]  // blocks of 7: 196 positions, a last chunk of 4
    [InlineData(45, 49, 7, 7, true, false)]    // 7 blocks of 7, chunks spanning several rows, a last chunk of 17
    [InlineData(5, 1, 1, 1, true, true)]       // one filter, one pixel: both neighbours masked, rows above and below guards
    [InlineData(3, 8, 3, 40, false, false)]    // rows wider than a chunk
    [InlineData(4, 17, 9, 9, true, true)]      // blocks of 5, 6 and 6
    [InlineData(2, 3, 5, 1, false, true)]      // one column: every left and right neighbour masked
    [InlineData(16, 16, 6, 11, true, false)]   // rectangular
    public void MatchesNaiveConvolution(int cin, int cout, int h, int w, bool relu, bool withResidual)
    {
        if (!CompactTileConv.Supported) return;   // no AVX-512 here: the op keeps the direct tiles
        var rng = new Random(11);
        float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * h * w) : null;
        var plan = PositionTileConv.Create(weight, cout, cin);
        var scratch = new float[CompactTileConv.GuardedLength(cin, h, w)];
        var masks = new float[CompactTileConv.MaskLength(h, w)];
        Array.Fill(scratch, float.NaN);
        fixed (float* sp = scratch, mp = masks)
        {
            CompactTileConv.ClearGuards(sp, cin, h, w);
            CompactTileConv.Masks(h, w, mp);
        }
        KernelTestData.AssertTwoImagesMatchNaive(x, weight, bias, residual, cin, cout, h, w, relu, (xp, yp, bp, rp) =>
        {
            fixed (float* sp = scratch, mp = masks) CompactTileConv.Forward(xp, h, w, plan, yp, sp, mp, bp, relu, rp);
        });
    }

    [Theory]
    [InlineData(22, 21, 14, 14, 4, false, true)]   // four 14x14 planes: 26 chunks where one at a time took 28
    [InlineData(45, 37, 7, 7, 4, true, true)]      // four 7x7 planes: 6 chunks where one at a time took 8
    [InlineData(9, 13, 7, 7, 3, true, false)]      // a short stack
    [InlineData(6, 5, 8, 4, 5, false, true)]       // 32-position planes: every chunk crosses a separator row
    [InlineData(3, 9, 12, 12, 1, true, true)]      // a stack of one
    public void StackedImagesMatchANaiveConvolutionOfEach(int cin, int cout, int h, int w, int images, bool relu, bool withResidual)
    {
        if (!CompactTileConv.Supported) return;
        var rng = new Random(17);
        int inImage = cin * h * w, outImage = cout * h * w;
        float[] x = KernelTestData.Fill(rng, images * inImage), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, images * outImage) : null;
        var plan = PositionTileConv.Create(weight, cout, cin);
        var scratch = new float[CompactTileConv.StackedLength(cin, images, h, w)];
        var masks = CompactTileConv.StackedMasks(images, h, w);
        const int tail = 40;   // floats after the last image's output that no store may touch
        for (int pass = 0; pass < 2; pass++)
        {
            var y = new float[images * outImage + tail];
            Array.Fill(y, float.NaN);
            if (pass == 1) for (int i = 0; i < x.Length; i++) x[i] = -x[i];   // the same scratch: the separators stay zero
            fixed (float* xp = x, yp = y, sp = scratch, mp = masks, bp = bias, rp = residual)
                CompactTileConv.ForwardStacked(xp, inImage, images, h, w, plan, yp, outImage, sp, mp, bp, relu, rp);
            KernelTestData.AssertImagesMatchNaive(x, weight, bias, residual, images, cin, cout, h, w, relu, y, 1e-4);
        }
    }

    [Theory]
    [InlineData(29, 31, 14, 14, 1, "columns", 2, true, true)]   // SPP's columns on two stacked 14x14 planes
    [InlineData(57, 61, 7, 7, 1, "columns", 4, false, true)]
    [InlineData(32, 64, 7, 7, 1, "slices", 3, true, false)]      // SNACS's slices, a short stack
    [InlineData(17, 37, 14, 14, 2, "dense", 4, true, true)]      // a pruned downsampling layer: four 7x7 outputs
    [InlineData(12, 23, 28, 28, 2, "columns", 2, false, true)]   // 14x14 outputs
    [InlineData(5, 9, 13, 13, 2, "slices", 4, true, true)]       // odd input: the odd phases a row short in every image
    public void StackedTapListsMatchANaiveConvolutionOfEach(int cin, int cout, int h, int w, int stride, string kind, int images, bool relu, bool withResidual)
    {
        if (!CompactTileConv.Supported) return;
        var rng = new Random(23);
        int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1, inImage = cin * h * w, outImage = cout * oh * ow;
        float[] x = KernelTestData.Fill(rng, images * inImage), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, images * outImage) : null;
        var plan = PlanOf(kind, weight, cin, cout, rng);
        var scratch = new float[stride == 2 ? CompactTileConv.PhasedStackedLength(cin, images, oh, ow) : CompactTileConv.StackedLength(cin, images, h, w)];
        var masks = CompactTileConv.StackedMasks(images, oh, ow);
        const int tail = 40;
        for (int pass = 0; pass < 2; pass++)
        {
            var y = new float[images * outImage + tail];
            Array.Fill(y, float.NaN);
            if (pass == 1) for (int i = 0; i < x.Length; i++) x[i] = -x[i];
            fixed (float* xp = x, yp = y, sp = scratch, mp = masks, bp = bias, rp = residual)
            {
                if (stride == 2) CompactTileConv.ForwardTapsStride2Stacked(xp, inImage, images, h, w, plan, yp, outImage, sp, mp, bp, relu, rp);
                else CompactTileConv.ForwardTapsStacked(xp, inImage, images, h, w, plan, yp, outImage, sp, mp, bp, relu, rp);
            }
            KernelTestData.AssertImagesMatchNaive(x, weight, bias, residual, images, cin, cout, h, w, relu, y, 1e-4, stride);
        }
    }

    [Theory]
    [InlineData(7, 7, 4)]
    [InlineData(14, 14, 2)]    // 13 chunks for two where one at a time took 14 (four: 26 for four, no better)
    [InlineData(28, 28, 1)]    // 24.5 chunks a plane: stacking saves under a twentieth
    [InlineData(5, 5, 1)]      // under a chunk: a chunk would span three images
    public void StacksWhereItSavesChunks(int h, int w, int expected) => Assert.Equal(expected, CompactTileConv.StackedImages(h, w));

    [Theory]
    [InlineData(12, 13, 28, 28, 0.5, true, true)]   // an SPP layer at half its columns: blocks of 7 and 6
    [InlineData(29, 31, 14, 14, 0.3, false, true)]
    [InlineData(57, 64, 7, 7, 0.6, true, false)]
    [InlineData(4, 5, 6, 9, 0.9, false, false)]    // nearly all columns gone
    [InlineData(3, 8, 5, 1, 0.0, true, true)]      // every column kept, one-pixel-wide planes
    public void KeptColumnsMatchANaiveConvolutionWithTheOthersZero(int cin, int cout, int h, int w, double pruned, bool relu, bool withResidual)
    {
        if (!CompactTileConv.Supported) return;
        var rng = new Random(13);
        var columns = Enumerable.Range(0, cin * 9).Where(_ => rng.NextDouble() >= pruned).ToArray();
        if (columns.Length == 0) columns = [4];
        if (pruned >= 0.9) columns = columns.Where(c => c % 3 != 0).ToArray();   // and no left-neighbour tap at all
        int k = columns.Length;
        float[] x = KernelTestData.Fill(rng, cin * h * w), kept = KernelTestData.Fill(rng, cout * k), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * h * w) : null;
        var dense = new float[cout * cin * 9];
        for (int o = 0; o < cout; o++)
            for (int j = 0; j < k; j++) dense[o * cin * 9 + columns[j]] = kept[o * k + j];
        AssertTapsMatchNaive(TapPlan.ForColumns(kept, cout, cin, columns), x, dense, bias, residual, cin, cout, h, w, relu);
    }

    [Fact]
    public void SliceBlocksGatherEqualChannelSetsWhateverTheirOrder()
    {
        // 8 filters alternating between channels {0, 1} and {2, 3} of 4: two blocks of four compute exactly the kept
        // slices, where blocks along the filter order would each read all four channels.
        const int cout = 8, cin = 4;
        var plan = TapPlan.ForSlices(AlternatingChannelSets(cout, cin, cout), cout, cin);
        Assert.Equal(0.5, plan.KeptShare);
        Assert.Equal(0.5, plan.ComputedShare);
        Assert.Equal(0.5, plan.CostShare);
        Assert.Equal([0, 4, 8], plan.BlockStarts);
        Assert.Equal([0, 2, 4, 6, 1, 3, 5, 7], plan.Filters);
    }

    [Fact]
    public void APlanCountsTheMultiplyAddsItRunsAndTheFiltersThatReadNothing()
    {
        // The alternating sets above with filter 7's slices all cut: it reads nothing and stays a block of its own
        // (merging it into the other set's block saves nothing), so 4 x 18 + 3 x 18 of the 8 x 4 x 9 taps are run.
        const int cout = 8, cin = 4;
        var plan = TapPlan.ForSlices(AlternatingChannelSets(cout, cin, cout - 1), cout, cin);
        Assert.Equal(3, plan.BlockCount);
        Assert.Equal(1, plan.FiltersReadingNothing);
        Assert.Equal(126.0 / 288, plan.MultipliedShare(), 12);
        Assert.Equal(126.0 / 288, plan.NonzeroShare(), 12);
        Assert.Equal("tap lists: 3 blocks of 1-4 filters, 44 % of the dense multiply-adds (44 % nonzero), 1 of 8 filters read no input", plan.Describe());
        // Two filters reading channels {0, 1, 2} and {0, 1, 3}: apart they would cost 4 x 3 each (a block under four
        // filters costs four), merged 4 x 4, so they share a block that runs all four channels for both.
        var overlapping = new float[2 * cin * 9];
        foreach (var (o, c) in new[] { (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 3) })
            for (int t = 0; t < 9; t++) overlapping[(o * cin + c) * 9 + t] = 1f + t;
        var merged = TapPlan.ForSlices(overlapping, 2, cin);
        Assert.Equal(1, merged.BlockCount);
        Assert.Equal(1.0, merged.MultipliedShare(), 12);
        Assert.Equal(0.75, merged.NonzeroShare(), 12);
        Assert.Equal("tap lists: 1 block of 2 filters, 100 % of the dense multiply-adds (75 % nonzero)", merged.Describe());
        // A kernel-column subset: every block runs the kept columns.
        var columns = new[] { 4, 13, 22, 31 };
        var kept = new float[cout * columns.Length];
        Array.Fill(kept, 1f);
        var centres = TapPlan.ForColumns(kept, cout, cin, columns);
        Assert.Equal(1.0 / 9, centres.MultipliedShare(), 12);
        Assert.Equal(1.0, centres.MultipliedShare(denseTaps: 1), 12);
        Assert.Equal(0, centres.FiltersReadingNothing);
    }

    [Theory]
    [InlineData(32, 64, 7, 7, 4, true, true)]     // SNACS's third stage: groups of 4 filters reading the same channels
    [InlineData(16, 16, 28, 28, 2, false, true)]
    [InlineData(30, 32, 14, 14, 1, true, false)]  // every filter its own channel set
    public void SliceBlocksMatchANaiveConvolution(int cin, int cout, int h, int w, int group, bool relu, bool withResidual)
    {
        if (!CompactTileConv.Supported) return;
        var rng = new Random(17);
        float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * h * w) : null;
        KernelTestData.ZeroSlicesByGroup(rng, weight, cout, cin, group);
        var plan = TapPlan.ForSlices(weight, cout, cin);
        if (group == 4) Assert.Equal(plan.KeptShare, plan.ComputedShare, 6);   // blocks of equal sets: no zero slice computed
        Assert.True(plan.KeptShare <= plan.ComputedShare && plan.ComputedShare <= plan.CostShare && plan.CostShare < 1);
        AssertTapsMatchNaive(plan, x, weight, bias, residual, cin, cout, h, w, relu);
    }

    // A [cout, cin*9] weight whose first `reading` filters read channels {0, 1} (even filters) or {2, 3} (odd ones), the rest nothing.
    private static float[] AlternatingChannelSets(int cout, int cin, int reading)
    {
        var weight = new float[cout * cin * 9];
        for (int o = 0; o < reading; o++)
            for (int c = 0; c < cin; c++)
                if (c / 2 == o % 2)
                    for (int t = 0; t < 9; t++) weight[(o * cin + c) * 9 + t] = 1f + o + t;
        return weight;
    }

    // One stride-1 image through a tap plan against the naive convolution of the dense weight it stands for.
    private static void AssertTapsMatchNaive(TapPlan plan, float[] x, float[] dense, float[] bias, float[]? residual, int cin, int cout, int h, int w, bool relu)
    {
        var scratch = new float[CompactTileConv.GuardedLength(cin, h, w)];
        var y = new float[cout * h * w];
        Array.Fill(y, float.NaN);
        fixed (float* sp = scratch, mp = CompactTileConv.MasksFor(h, w), xp = x, yp = y, bp = bias, rp = residual)
        {
            CompactTileConv.ClearGuards(sp, cin, h, w);
            CompactTileConv.ForwardTaps(xp, h, w, plan, yp, sp, mp, bp, relu, rp);
        }
        for (int o = 0; o < cout; o++)
            for (int oy = 0; oy < h; oy++)
                for (int ox = 0; ox < w; ox++)
                    Assert.Equal(KernelTestData.NaiveConv3x3(x, dense, bias, residual, cin, h, w, 1, relu, o, oy, ox), y[(o * h + oy) * w + ox], 1e-4);
    }

    [Theory]
    [InlineData(12, 23, 28, 28, "dense", true, false)]   // a pruned first downsampling layer: 14x14 out
    [InlineData(22, 48, 14, 14, "dense", false, true)]   // the second: 7x7 out, with a residual
    [InlineData(5, 9, 9, 11, "dense", true, true)]       // odd input: 5x6 out, the odd phases a row and a column short
    [InlineData(3, 2, 2, 2, "dense", false, false)]      // one output pixel
    [InlineData(16, 30, 28, 28, "columns", true, true)]  // SPP's kernel columns
    [InlineData(16, 32, 13, 13, "slices", false, true)]  // SNACS's slices, odd input
    public void StrideTwoMatchesANaiveConvolution(int cin, int cout, int h, int w, string kind, bool relu, bool withResidual)
    {
        if (!CompactTileConv.Supported) return;
        var rng = new Random(19);
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
        float[] x = KernelTestData.Fill(rng, cin * h * w), weight = KernelTestData.Fill(rng, cout * cin * 9), bias = KernelTestData.Fill(rng, cout);
        float[]? residual = withResidual ? KernelTestData.Fill(rng, cout * oh * ow) : null;
        var plan = PlanOf(kind, weight, cin, cout, rng);
        if (kind == "slices") Assert.True(plan.ComputedShare < 1);
        var scratch = new float[CompactTileConv.PhasedLength(cin, oh, ow)];
        var masks = new float[CompactTileConv.MaskLength(oh, ow)];
        fixed (float* mp = masks) CompactTileConv.Masks(oh, ow, mp);
        for (int image = 0; image < 2; image++)
        {
            var y = new float[cout * oh * ow];
            Array.Fill(y, float.NaN);
            if (image == 1) for (int i = 0; i < x.Length; i++) x[i] = -x[i];   // the same scratch: what the split left must not leak
            fixed (float* sp = scratch, mp = masks, xp = x, yp = y, bp = bias, rp = residual)
                CompactTileConv.ForwardTapsStride2(xp, h, w, plan, yp, sp, mp, bp, relu, rp);
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        Assert.Equal(KernelTestData.NaiveConv3x3(x, weight, bias, residual, cin, h, w, 2, relu, o, oy, ox), y[(o * oh + oy) * ow + ox], 1e-4);
        }
    }

    // A tap plan of a 3x3 weight (zeroed in place where the kind prunes it): "columns", half the kernel columns at random
    // (SPP); "slices", the slices of filters in fours reading a third of the channels fewer (SNACS); else every tap.
    private static TapPlan PlanOf(string kind, float[] weight, int cin, int cout, Random rng)
    {
        if (kind == "columns")
        {
            var columns = Enumerable.Range(0, cin * 9).Where(_ => rng.NextDouble() < 0.5).ToArray();
            for (int o = 0; o < cout; o++)
                for (int j = 0; j < cin * 9; j++)
                    if (Array.IndexOf(columns, j) < 0) weight[o * cin * 9 + j] = 0;
            var kept = new float[cout * columns.Length];
            for (int o = 0; o < cout; o++)
                for (int j = 0; j < columns.Length; j++) kept[o * columns.Length + j] = weight[o * cin * 9 + columns[j]];
            return TapPlan.ForColumns(kept, cout, cin, columns);
        }
        if (kind == "slices")
        {
            for (int o = 0; o < cout; o++)
                for (int c = 0; c < cin; c++)
                    if ((o / 4 + c) % 3 == 0) Array.Clear(weight, (o * cin + c) * 9, 9);
            return TapPlan.ForSlices(weight, cout, cin);
        }
        return TapPlan.ForColumns(weight, cout, cin);
    }
}
