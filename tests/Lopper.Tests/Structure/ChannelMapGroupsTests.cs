using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Pruning;
using Lopper.Structure;
using static Lopper.Tests.Structure.StructureFixtures;

namespace Lopper.Tests.Structure;

/// <summary>Dependency groups built from channel maps alone: concat, depthwise, squeeze-and-excitation, shuffle.</summary>
public class ChannelMapGroupsTests
{
    private static PruningGroup GroupOf(ModelGraph g, ChannelGroups groups, string node) => groups.Groups[groups.GroupOfNode[g.IndexOf(node)]];

    private static string Head(GraphBuilder b, string x)
    {
        x = b.GlobalAvgPool("gap", x);
        x = b.Flatten("flatten", x);
        return b.Linear("fc", x, 3);
    }

    [Fact]
    public void ConcatKeepsOneGroupPerProducerAndPlacesTheSecondAtItsOffset()
    {
        var b = new GraphBuilder([2, 6, 6]);
        var a = b.Conv("a", b.Input, 4, 3, padding: 1);
        var c = b.Conv("b", b.Input, 6, 1);
        var cat = b.Concat("cat", a, c);
        var r = b.Conv("reader", cat, 5, 3, padding: 1);
        Head(b, r);
        var g = b.Build("concat");
        var groups = ChannelGroups.Analyze(g);
        var ga = GroupOf(g, groups, "a");
        var gb = GroupOf(g, groups, "b");
        Assert.NotEqual(ga.Id, gb.Id);
        Assert.Equal((4, 6), (ga.Channels, gb.Channels));
        Assert.Equal(-1, groups.GroupOfNode[g.IndexOf("cat")]);
        Assert.Contains(g.IndexOf("cat"), ga.Members);
        var readA = Assert.Single(ga.Slices, s => s.Parameter == "reader.weight");
        Assert.True(readA.Consumes);
        Assert.Equal(0, readA.Start(0));
        var readB = Assert.Single(gb.Slices, s => s.Parameter == "reader.weight");
        Assert.Equal([4, 5, 6, 7, 8, 9], Enumerable.Range(0, 6).Select(readB.Start));
        Assert.Equal(1, readB.Width);
        Assert.True(ga.Prunable && gb.Prunable);
    }

    [Fact]
    public void DepthwiseConvolutionPrunesWithTheChannelsItReads()
    {
        var b = new GraphBuilder([2, 6, 6]);
        var a = b.Conv("a", b.Input, 4, 1);
        var n = b.BatchNorm("bn_a", a);
        var d = b.Conv("dw", n, 8, 3, padding: 1, groups: 4); // multiplier 2
        var n2 = b.BatchNorm("bn_dw", d);
        var r = b.Conv("pw", n2, 5, 1);
        Head(b, r);
        var g = b.Build("dw");
        var groups = ChannelGroups.Analyze(g);
        var ga = GroupOf(g, groups, "a");
        Assert.Same(ga, GroupOf(g, groups, "dw"));
        Assert.Equal(4, ga.Channels);
        Assert.Equal(["a"], ga.Producers.Select(p => g.Nodes[p].Name));
        Assert.Equal(2, groups.WidthOfNode[g.IndexOf("dw")]);
        Assert.Equal(2, Assert.Single(ga.Slices, s => s.Parameter == "dw.weight").Width);
        Assert.Equal(2, Assert.Single(ga.Slices, s => s.Parameter == "bn_dw.weight").Width);
        Assert.Equal(2, Assert.Single(ga.Slices, s => s.Parameter == "pw.weight").Width);
        Assert.True(ga.Prunable);
    }

    [Fact]
    public void GroupedNonDepthwiseConvolutionLocksWithAReason()
    {
        var b = new GraphBuilder([2, 6, 6]);
        var a = b.Conv("a", b.Input, 4, 1);
        var gc = b.Conv("grouped", a, 6, 3, padding: 1, groups: 2);
        var r = b.Conv("pw", gc, 5, 1);
        Head(b, r);
        var g = b.Build("grouped");
        var groups = ChannelGroups.Analyze(g);
        Assert.Contains("grouped convolution", GroupOf(g, groups, "a").Locked);
        Assert.Contains("grouped convolution", GroupOf(g, groups, "grouped").Locked);
        Assert.True(GroupOf(g, groups, "pw").Prunable);
    }

    [Fact]
    public void SqueezeExciteGateTiesTheExpandingConvToTheGatedTensor()
    {
        var b = new GraphBuilder([2, 6, 6]);
        var x = b.Conv("a", b.Input, 8, 3, padding: 1);
        var s = b.GlobalAvgPool("se.pool", x);
        s = b.Conv("se.reduce", s, 2, 1, bias: true);
        s = b.Relu("se.relu", s);
        s = b.Conv("se.expand", s, 8, 1, bias: true);
        var m = b.Mul("se.mul", x, s);
        var r = b.Conv("pw", m, 5, 1);
        Head(b, r);
        var g = b.Build("se");
        var groups = ChannelGroups.Analyze(g);
        var ga = GroupOf(g, groups, "a");
        Assert.Same(ga, GroupOf(g, groups, "se.expand"));
        Assert.True(ga.Coupled);
        Assert.Contains(ga.Slices, sl => sl.Parameter == "se.reduce.weight" && sl.Consumes);
        Assert.Contains(ga.Slices, sl => sl.Parameter == "se.expand.bias" && !sl.Consumes);
        Assert.NotSame(ga, GroupOf(g, groups, "se.reduce"));
    }

    [Fact]
    public void ShuffleCouplesTheKthChannelOfEveryGroup()
    {
        var b = new GraphBuilder([2, 6, 6]);
        var a = b.Conv("a", b.Input, 4, 1);
        var c = b.Conv("b", b.Input, 4, 1);
        var cat = b.Concat("cat", a, c);
        var sh = b.Shuffle("shuffle", cat, 2);
        var r = b.Conv("pw", sh, 5, 1);
        Head(b, r);
        var g = b.Build("shuffle");
        var groups = ChannelGroups.Analyze(g);
        var ga = GroupOf(g, groups, "a");
        Assert.Same(ga, GroupOf(g, groups, "b"));
        Assert.Equal(4, ga.Channels);
        Assert.Equal(2, Assert.Single(ga.Slices, s => s.Parameter == "pw.weight").Width);
        var sel = new ChannelSelection();
        sel.Keep(ga, [1, 3]);
        Assert.Equal([2, 3, 6, 7], groups.KeptChannels(g.IndexOf("shuffle"), sel)!);
        Assert.Equal([1, 3, 5, 7], groups.KeptChannels(g.IndexOf("cat"), sel)!);
    }

    [Fact]
    public void ShuffleOfUnequalHalvesLocksTheGroupItCannotSliceByBlocks()
    {
        // Channels 0-11 of the concat come from "a" (16) and pair with a's own 12-15 and with b's 0-7: a unit of
        // "a" is then one channel or two, which block slicing cannot express, so the group is locked, not mis-cut.
        var b = new GraphBuilder([2, 6, 6]);
        var a = b.Conv("a", b.Input, 16, 1);
        var c = b.Conv("b", b.Input, 8, 1);
        var sh = b.Shuffle("shuffle", b.Concat("cat", a, c), 2);
        Head(b, b.Conv("pw", sh, 5, 1));
        var g = b.Build("uneven");
        var groups = ChannelGroups.Analyze(g);
        var locked = GroupOf(g, groups, "a").Locked;
        Assert.NotNull(locked);
        Assert.Contains("runs", locked);
    }

    [Fact]
    public void OpaqueMapRefusesNamingOpAndNode()
    {
        var b = new GraphBuilder([2, 6, 6]);
        var a = b.Conv("a", b.Input, 4, 1);
        var x = b.Add("mystery", new OpaqueOp(), a);
        Head(b, x);
        var e = Assert.Throws<LopperInputException>(() => ChannelGroups.Analyze(b.Build("m")));
        Assert.Contains("mystery", e.Message);
        Assert.Contains("opaque-op", e.Message);
        Assert.Contains("no idea", e.Message);
    }

    private sealed class OpaqueOp : Op
    {
        public override string Type => "opaque-op";
        public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.Opaque("no idea");
        public override int[] OutputShape(IReadOnlyList<int[]> inputs) => inputs[0];
        public override Lopper.Tensors.Tensor Forward(Lopper.Tensors.Tensor[] inputs, Lopper.Tensors.Tensor[] parameters, NodeState state) => inputs[0].Clone();
        public override Lopper.Tensors.Tensor?[] Backward(Lopper.Tensors.Tensor gradOut, Lopper.Tensors.Tensor[] inputs, Lopper.Tensors.Tensor output, Lopper.Tensors.Tensor[] parameters, Lopper.Tensors.Tensor?[] paramGrads, NodeState state) => [gradOut];
        public override System.Text.Json.Nodes.JsonObject Attributes() => new();
    }

    /// <summary>
    /// A small "modern" network: an inverted residual block with depthwise convolution and squeeze-and-excitation,
    /// a shuffle unit (two branches, one through a depthwise multiplier, concatenated and shuffled), a dense
    /// concat of that with the block's output, padded ceil-mode pooling and a linear head.
    /// </summary>
    public static ModelGraph ModernNet()
    {
        var b = new GraphBuilder([3, 12, 12]);
        var stem = b.Relu("stem.relu", b.BatchNorm("stem.bn", b.Conv("stem.conv", b.Input, 8, 3, padding: 1)));
        var e = b.Relu("ir.expand.relu", b.BatchNorm("ir.expand.bn", b.Conv("ir.expand", stem, 16, 1)));
        var d = b.Relu("ir.dw.relu", b.BatchNorm("ir.dw.bn", b.Conv("ir.dw", e, 16, 3, padding: 1, groups: 16)));
        var s = b.GlobalAvgPool("ir.se.pool", d);
        s = b.Relu("ir.se.relu", b.Conv("ir.se.reduce", s, 4, 1, bias: true));
        s = b.Conv("ir.se.expand", s, 16, 1, bias: true);
        var m = b.Mul("ir.se.mul", d, s);
        var p = b.BatchNorm("ir.project.bn", b.Conv("ir.project", m, 8, 1));
        var r1 = b.Sum("ir.add", stem, p);
        var b1 = b.Relu("sh.b1.relu", b.BatchNorm("sh.b1.bn", b.Conv("sh.b1", r1, 6, 1)));
        var b2 = b.BatchNorm("sh.b2.dw.bn", b.Conv("sh.b2.dw", r1, 16, 3, padding: 1, groups: 8));
        b2 = b.Relu("sh.b2.relu", b.BatchNorm("sh.b2.pw.bn", b.Conv("sh.b2.pw", b2, 6, 1)));
        var cat = b.Concat("sh.cat", b1, b2);
        var sh = b.Shuffle("sh.shuffle", cat, 2);
        var dense = b.Concat("dense.cat", sh, r1);
        var t = b.Relu("down.relu", b.BatchNorm("down.bn", b.Conv("down.conv", dense, 10, 3, stride: 2, padding: 1)));
        t = b.MaxPool("down.pool", t, 3, 2, 1, ceilMode: true);
        t = b.AvgPool("down.avg", t, 2, 1, padding: 1, countIncludePad: false);
        var f = b.Flatten("flatten", t);
        b.Linear("fc", f, 5);
        return b.Build("modern");
    }

    [Theory]
    [InlineData(11UL)]
    [InlineData(12UL)]
    [InlineData(13UL)]
    [InlineData(14UL)]
    public void CompactedModernNetMatchesMaskedOutputs(ulong seed)
    {
        var model = RandomizeBatchNorm(new Model(ModernNet(), seed), seed);
        var groups = ChannelGroups.Analyze(model.Graph);
        Assert.True(groups.Prunable.Count() >= 5);
        var sel = RandomSelection(groups, seed);
        ChannelSurgery.Mask(model, groups, sel);
        var x = Input(model, 2, seed + 1);
        var masked = Run(model, x);
        var compact = ChannelSurgery.Compact(model, groups, sel);
        Assert.True(compact.Graph.Macs() < model.Graph.Macs());
        Assert.Equal(compact.Graph.Macs(), ChannelSurgery.ResizedGraph(model.Graph, groups, g => sel.KeptCount(groups.Groups[g])).Macs());
        AssertClose(masked, Run(compact, x));

        // The slicing recorded for optimizer state gives the compacted parameters from the masked ones.
        var slicing = ParameterSlicing.ForChannels(model, groups, sel);
        foreach (var p in compact.Parameters)
            Assert.Equal(p.Value.Data, slicing.TryApply(p.Name, model.Find(p.Name)!.Value)!.Data);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void L1AndBatchNormPlansMeetAMacBudgetAcrossConcatAndDepthwiseGroups(bool batchNorm)
    {
        var model = RandomizeBatchNorm(new Model(ModernNet(), 21), 21);
        var groups = ChannelGroups.Analyze(model.Graph);
        var scores = batchNorm ? ChannelImportance.BatchNormScale(model, groups) : ChannelImportance.L1(model, groups);
        // Every group has filters to score; batch-norm slimming leaves out the SE bottleneck, which has no batch-norm.
        foreach (var g in groups.Prunable)
            Assert.True(scores.ContainsKey(g.Id) || (batchNorm && g.Name == "ir.se.reduce"), $"group {g.Name} has no score");
        var sel = ChannelPlanner.Plan(model.Graph, groups, scores, new Budget(BudgetKind.Macs, 0.6));
        var (_, m0) = CostCounter.Totals(model.Graph);
        ChannelSurgery.Mask(model, groups, sel);
        var x = Input(model, 2, 22);
        var masked = Run(model, x);
        var compact = ChannelSurgery.Compact(model, groups, sel);
        var (_, m) = CostCounter.Totals(compact.Graph);
        Assert.InRange((double)m / m0, 0.4, 0.6);
        AssertClose(masked, Run(compact, x));
    }

    [Fact]
    public void ModernNetGroupsFollowTheMaps()
    {
        var g = ModernNet();
        var groups = ChannelGroups.Analyze(g);
        // Residual add ties the stem, the projection and, via the dense concat, a slice of down.conv's input.
        var stem = GroupOf(g, groups, "stem.conv");
        Assert.Same(stem, GroupOf(g, groups, "ir.project"));
        Assert.Same(stem, GroupOf(g, groups, "sh.b2.dw"));
        Assert.Contains(stem.Slices, s => s.Parameter == "down.conv.weight" && s.Starts is not null && s.Start(0) == 12);
        // The shuffle couples the two branches; the SE expand joins the expand conv's group through the depthwise conv.
        Assert.Same(GroupOf(g, groups, "sh.b1"), GroupOf(g, groups, "sh.b2.pw"));
        Assert.Same(GroupOf(g, groups, "ir.expand"), GroupOf(g, groups, "ir.se.expand"));
        Assert.Contains("classifier output", GroupOf(g, groups, "fc").Locked);
    }
}
