using Lopper.Graph;
using Lopper.Tensors;
using Lopper.Tests.Structure;

namespace Lopper.Tests.Graph;

[Collection(SerialGraphCollection.Name)]
public class SplitBatchInferenceTests
{
    [Theory]
    [InlineData("resnet20", 19, 8, 2)]   // sub-batches of 8, 8 and 3
    [InlineData("resnet20", 7, 8, 2)]    // a small batch: 4 + 3, one sub-batch per thread
    [InlineData("vgg-small", 5, 2, 1)]
    [InlineData("lenet5", 4, 16, 2)]     // one sub-batch larger than the batch
    [InlineData("resnet20", 1, 8, 2)]    // one image on two threads: its convolutions' output rows are split
    [InlineData("vgg-small", 1, 8, 2)]
    public void MatchesWholeBatchForward(string name, int batch, int subBatch, int threads)
    {
        using (new ThreadsScope(threads))
        {
            var model = InferenceFolding.Fold(StructureFixtures.Build(name, 41));
            var x = StructureFixtures.Input(model, batch, 5);
            var expected = StructureFixtures.Run(model, x);
            var run = new SplitBatchInference(model, subBatch);
            for (int pass = 0; pass < 2; pass++)   // executors are reused from pass to pass, packed weights included
            {
                var y = run.Forward(x);
                Assert.Equal([batch, model.Graph.Classes], y.Shape);
                StructureFixtures.AssertClose(expected, y.Data);
                y.Release();
            }
        }
    }

    [Theory]
    [InlineData(9, 2)]
    [InlineData(1, 1)]
    public void ConvolutionsWithMostSlicesPrunedSkipThemAndMatchTheDenseForward(int batch, int threads)
    {
        using (new ThreadsScope(threads))
        {
            // ResNet-20 with 70 % of every 3x3 kernel slice zeroed (as SNACS's connection masks leave it).
            var model = InferenceFolding.Fold(StructureFixtures.Build("resnet20", 43));
            var rng = new Random(3);
            int sparse = 0;
            for (int i = 0; i < model.Graph.Nodes.Count; i++)
                if (model.Graph.Nodes[i].Op is Lopper.Graph.Ops.Conv2dOp { Kernel: 3 } conv)
                {
                    var w = model.NodeParameters[i][0].Value.Data;
                    for (int s = 0; s < conv.OutChannels * conv.InChannels; s++)
                        if (rng.NextDouble() < 0.7) Array.Clear(w, s * 9, 9);
                    sparse++;   // stride 1 and the stride-2 downsampling convolutions alike
                }
            var x = StructureFixtures.Input(model, batch, 5);
            var expected = StructureFixtures.Run(model, x);
            var run = new SplitBatchInference(model);
            var y = run.Forward(x);
            StructureFixtures.AssertClose(expected, y.Data);
            y.Release();
            // Every one skips zero slices: the slice-sparse kernel, or blocks of filters reading the channels any of
            // them reads, where that multiplies less than three times the kept slices.
            if (Tensors.Kernels.SliceSparseConv.Supported)
            {
                Assert.Equal(sparse, run.Derived.Slots.Count(d => d is Tensors.Kernels.SliceSparseConv.Plan or Tensors.Kernels.TapPlan));
                Assert.All(run.Derived.Slots.OfType<Tensors.Kernels.TapPlan>(), p => Assert.True(p.ComputedShare < 0.95 && p.CostShare <= 3 * p.KeptShare));
                // A profile names each of them by what it derived: the share of the dense multiply-adds it runs.
                for (int i = 0; i < model.Graph.Nodes.Count; i++)
                    if (run.Derived.Slots[i] is Tensors.Kernels.TapPlan plan)
                    {
                        var node = model.Graph.Nodes[i];
                        string kernel = node.Op.InferenceKernel(plan, node.InputIndices.Select(j => model.Graph.Nodes[j].OutputShape).ToArray())!;
                        Assert.StartsWith("tap lists: ", kernel);
                        Assert.Contains($"{plan.MultipliedShare() * 100:F0} % of the dense multiply-adds", kernel);
                    }
            }
        }
    }

    [Theory]
    [InlineData(17, 14, 1, true)]    // 17 of 32 lanes on a 14-wide plane: position tiles
    [InlineData(33, 7, 1, true)]     // 33 of 48
    [InlineData(12, 28, 1, true)]    // 12 of 16 on the 28-wide plane
    [InlineData(23, 28, 2, true)]    // a stride-2 downsampling layer at 23 of 32
    [InlineData(30, 14, 1, true)]    // 30 of 32 at stride 1: any idle lane
    [InlineData(30, 28, 2, true)]    // 30 of 32 at stride 2 too
    [InlineData(32, 14, 1, false, 9)]   // a full block stays on the direct tiles
    [InlineData(48, 14, 2, false)]   // 32 + 16: all lanes
    [InlineData(12, 28, 2, true, 1)]  // a one-channel stride-2 stem
    [InlineData(12, 28, 1, true, 1)]  // a one-channel stride-1 stem: the unpadded tiles
    [InlineData(16, 28, 1, true, 1)]  // a stem at all 16 lanes too
    [InlineData(16, 28, 1, false, 9)] // all 16 lanes past 8 input channels: the direct tiles
    [InlineData(16, 28, 1, true, 8)]  // a block's second convolution reading 8 channels: the position tiles
    [InlineData(48, 14, 2, false, 5)] // at stride 2 only stems (up to 4 input channels) do
    public void DenseWeightsGoToPositionTilesWhereTheDirectTilesWouldIdleLanes(int filters, int size, int stride, bool positions, int inChannels = 8)
    {
        var plan = OneConvPlan(OneConv(inChannels, filters, size, stride));
        bool expected = positions && Tensors.Kernels.PositionTileConv.Supported || NarrowPositionTiles(inChannels, filters, stride);
        Assert.Equal(expected, stride == 1 ? plan is Tensors.Kernels.PositionTileConv.Plan : plan is Tensors.Kernels.TapPlan);
    }

    // Whether the Vector256 family (AVX2 parts) runs a dense 3x3 layer through its position tiles (a tap list of every
    // tap at stride 2).
    private static bool NarrowPositionTiles(int inChannels, int filters, int stride) =>
        Tensors.Kernels.PositionTileConv256.Supported
        && (stride == 1 ? Tensors.Kernels.PositionTileConv256.Pays(inChannels, filters) : Tensors.Kernels.PositionTileConv256.PaysStride2(inChannels, filters));

    [Theory]
    [InlineData(33, 7, 11, 1)]   // sub-batches of 8 and 3: stacks of 4, 4 and 3 images
    [InlineData(17, 14, 11, 2)]
    [InlineData(21, 7, 5, 2)]    // 3 + 2 images, one sub-batch per thread
    public void StackedSmallPlanesMatchTheWholeBatchForward(int filters, int size, int batch, int threads)
    {
        using (new ThreadsScope(threads))
        {
            var model = OneConv(8, filters, size, 1);
            var plan = OneConvPlan(model, batch);
            Assert.Equal(Tensors.Kernels.PositionTileConv.Supported || NarrowPositionTiles(8, filters, 1), plan is Tensors.Kernels.PositionTileConv.Plan);
        }
    }

    [Theory]
    // winograd: the Vector512 family's rule (AVX-512 parts); narrow: the Vector256 family's (AVX2 parts, where the
    // alternative is the GEMM on padded rows).
    [InlineData(64, 64, 14, 3, 1, true, true)]     // wide enough: Winograd, a sub-batch's 147 tiles in one group
    [InlineData(64, 80, 15, 5, 2, true, true)]     // odd plane, filters in blocks of 12 and a tail; 5 images on two threads
    [InlineData(128, 128, 7, 4, 1, true, true)]    // 7x7 needs 128 x 128 on AVX-512
    [InlineData(64, 64, 7, 4, 1, false, true)]     // 64 x 64 at 7x7 stays on the direct tiles
    [InlineData(32, 32, 14, 3, 1, false, true)]    // narrow on 14-wide rows, which the direct tiles fill: the direct tiles
    [InlineData(16, 16, 28, 3, 1, false, true)]    // and on 28-wide rows
    [InlineData(16, 16, 32, 2, 1, true, true)]     // narrow on 32-wide rows, which leave the direct tiles part empty: Winograd
    [InlineData(32, 24, 16, 2, 2, true, true)]     // 16-wide rows, two sub-batches on two threads
    [InlineData(64, 64, 28, 1, 2, true, true)]     // one image on two threads: its tile rows shared
    [InlineData(12, 16, 28, 2, 1, false, false)]   // 12 channels in: the direct tiles (AVX-512), the position tiles (AVX2)
    [InlineData(16, 24, 28, 2, 1, false, true)]    // 16 -> 24: the direct tiles (AVX-512), Winograd (AVX2)
    [InlineData(6, 16, 28, 2, 1, false, false)]    // under 8 channels in: the direct tiles or the GEMM
    [InlineData(32, 32, 6, 4, 1, false, false)]    // planes under 7 wide: unmeasured, so not on AVX2 either
    public void WideDenseLayersRunWinogradAndMatchTheDirectForward(int inChannels, int filters, int size, int batch, int threads, bool winograd, bool narrow)
    {
        using (new ThreadsScope(threads))
        {
            var plan = OneConvPlan(OneConv(inChannels, filters, size, 1), batch);
            bool expected = Tensors.Kernels.WinogradConv.Wide ? winograd : narrow && Tensors.Kernels.WinogradConv.Supported;
            Assert.Equal(expected, plan?.GetType().Name == "WinogradLayer");
        }
    }

    [Fact]
    public void IdleLaneWidthsWithScatteredZeroSlicesGoSliceSparse()
    {
        // Each filter reads one input channel of its own: no two filters share a channel, so any block of filters
        // multiplies every one of them over all its members' channels (a block of one costs as four), over three
        // times the kept slices, and the slice-sparse kernel takes the layer.
        var model = OneConv(32, 17, 14, 1);
        var w = model.NodeParameters[1][0].Value.Data;
        for (int o = 0; o < 17; o++)
            for (int c = 0; c < 32; c++)
                if (c != o) Array.Clear(w, (o * 32 + c) * 9, 9);
        Assert.Equal(Tensors.Kernels.SliceSparseConv.Supported, OneConvPlan(model) is Tensors.Kernels.SliceSparseConv.Plan);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void KernelColumnSubsetsGoToTheTapTiles(int stride)
    {
        var b = new GraphBuilder([6, 14, 14]);
        var columns = Enumerable.Range(0, 54).Where(c => c % 4 != 1).ToArray();
        var c = b.Add("conv", new Lopper.Graph.Ops.Conv2dOp(6, 13, 3, stride, 1, true, columns), b.Input);
        b.Linear("fc", b.Flatten("flat", c), 3);
        var plan = OneConvPlan(new Model(b.Build("columns"), 9));
        Assert.Equal(Tensors.Kernels.CompactTileConv.Supported || Tensors.Kernels.PositionTileConv256.Supported, plan is Tensors.Kernels.TapPlan);
    }

    [Theory]
    [InlineData(1, 28, 3)]    // unstacked planes
    [InlineData(1, 7, 9)]     // stacked four to a plane, a short last stack
    [InlineData(2, 28, 5)]    // a projection shortcut: phase (0, 0) of 14x14, stacked two to a plane
    [InlineData(2, 15, 4)]    // odd input: 8x8 outputs
    public void ConnectionPrunedPointwiseConvolutionsGoToCentreTapLists(int stride, int size, int batch)
    {
        // As SNACS leaves a 1x1 convolution: filters in fours reading a third of the input channels; the rest dense.
        var b = new GraphBuilder([16, size, size]);
        var c = b.Add("conv", new Lopper.Graph.Ops.Conv2dOp(16, 24, 1, stride, 0, true), b.Input);
        b.Linear("fc", b.Flatten("flat", c), 3);
        var model = new Model(b.Build("pointwise"), 11);
        Assert.IsNotType<Tensors.Kernels.TapPlan>(OneConvPlan(model, batch));   // dense: stays dense
        model = new Model(b.Build("pointwise"), 11);
        var w = model.NodeParameters[1][0].Value.Data;
        var rng = new Random(3);
        for (int g = 0; g < 6; g++)
        {
            var reads = Enumerable.Range(0, 16).Select(_ => rng.NextDouble() < 0.33).ToArray();
            for (int o = 4 * g; o < 4 * g + 4; o++)
                for (int i = 0; i < 16; i++)
                    if (!reads[i]) w[o * 16 + i] = 0f;
        }
        Assert.Equal(Tensors.Kernels.CompactTileConv.Supported, OneConvPlan(model, batch) is Tensors.Kernels.TapPlan);
    }

    [Fact]
    public void ConnectionsPrunedInGroupsOfFiltersGoToSliceBlocks()
    {
        // As SNACS leaves a layer: filters in fours reading the same half of the input channels.
        var model = OneConv(16, 32, 14, 1);
        var w = model.NodeParameters[1][0].Value.Data;
        var rng = new Random(5);
        var reads = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 16).Select(_ => rng.NextDouble() < 0.5).ToArray()).ToArray();
        for (int o = 0; o < 32; o++)
            for (int c = 0; c < 16; c++)
                if (!reads[o / 4][c]) Array.Clear(w, (o * 16 + c) * 9, 9);
        // On AVX2 parts too: half the slices cost under the 0.75 a 16 x 32 layer's tap list must beat Winograd by.
        Assert.Equal(Tensors.Kernels.CompactTileConv.Supported || Tensors.Kernels.PositionTileConv256.Supported, OneConvPlan(model) is Tensors.Kernels.TapPlan);
    }

    // A 3x3 convolution with bias (padding 1) and a linear head on [inChannels, size, size] images.
    private static Model OneConv(int inChannels, int filters, int size, int stride)
    {
        var b = new GraphBuilder([inChannels, size, size]);
        var c = b.Conv("conv", b.Input, filters, 3, stride, 1, bias: true);
        b.Linear("fc", b.Flatten("flat", c), 3);
        return new Model(b.Build("one-conv"), 7);
    }

    // Runs the model split against the plain executor and returns what the convolution planned for its frozen weight.
    private static object? OneConvPlan(Model model, int batch = 3)
    {
        var x = StructureFixtures.Input(model, batch, 2);
        var expected = StructureFixtures.Run(model, x);
        var run = new SplitBatchInference(model);
        var y = run.Forward(x);
        StructureFixtures.AssertClose(expected, y.Data);
        y.Release();
        return run.Derived.Slots[1];
    }

    [Fact]
    public void TimingsCollectEveryNodesForwardFromEverySubBatch()
    {
        using (new ThreadsScope(2))
        {
            var model = InferenceFolding.Fold(StructureFixtures.Build("resnet20", 41));
            var run = new SplitBatchInference(model, 4) { Timings = new OpTimings(model.Graph.Nodes.Count) };
            run.Forward(StructureFixtures.Input(model, 10, 5)).Release();
            double once = Enumerable.Range(1, model.Graph.Nodes.Count - 1).Sum(run.Timings.ForwardSeconds);
            Assert.All(Enumerable.Range(1, model.Graph.Nodes.Count - 1), i => Assert.True(run.Timings.ForwardSeconds(i) > 0, model.Graph.Nodes[i].Name));
            run.Forward(StructureFixtures.Input(model, 10, 6)).Release();
            Assert.True(Enumerable.Range(1, model.Graph.Nodes.Count - 1).Sum(run.Timings.ForwardSeconds) > once);
        }
    }

    [Fact]
    public void AbsorbAddsAnotherTimingsAndEmptiesIt()
    {
        var total = new OpTimings(3);
        var part = new OpTimings(3);
        total.AddForward(1, 5);
        part.AddForward(1, 7);
        part.AddBackward(2, 3);
        total.Absorb(part);
        Assert.Equal(12.0 / System.Diagnostics.Stopwatch.Frequency, total.ForwardSeconds(1), 15);
        Assert.Equal(3.0 / System.Diagnostics.Stopwatch.Frequency, total.BackwardSeconds(2), 15);
        Assert.Equal(0, part.ForwardSeconds(1));
        Assert.Equal(0, part.BackwardSeconds(2));
        Assert.Throws<ArgumentException>(() => total.Absorb(new OpTimings(4)));
    }

    [Fact]
    public void WrongInputShapeIsAClearError()
    {
        var model = StructureFixtures.Build("lenet5", 41);
        var e = Assert.Throws<LopperInputException>(() => new SplitBatchInference(model).Forward(new Tensor(2, 3, 28, 28)));
        Assert.Contains("does not match the model", e.Message);
    }
}
