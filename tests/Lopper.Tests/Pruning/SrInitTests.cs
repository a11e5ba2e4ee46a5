using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Models;
using Lopper.Pruning;
using Lopper.Pruning.SrInit;
using Lopper.Structure;
using Lopper.Tensors;
using Lopper.Tests.Training;
using Lopper.Training;

namespace Lopper.Tests.Pruning;

public class SrInitTests
{
    /// <summary>resnet20 on 1x8x8 with non-trivial batch-norm state, so resets and restores touch real values.</summary>
    private static Model TinyResNet(ulong seed = 3)
    {
        return Lopper.Tests.Structure.StructureFixtures.RandomizeBatchNorm(new Model(ModelZoo.Create("resnet20", [1, 8, 8], 3), seed), seed);
    }

    private static PruneContext Context(Model model, ulong seed = 5)
    {
        var train = TinyTask.Data(48, 1);
        var test = TinyTask.Data(36, 2);
        var (mean, std) = train.ChannelStats();
        return new PruneContext
        {
            Model = model,
            Train = new DataLoader(train, 16, seed, shuffle: true, mean, std),
            Test = new DataLoader(test, 32, seed, shuffle: false, mean, std),
            TrainConfig = TinyTask.Config(1),
            Seed = seed,
        };
    }

    private static uint[] Bits(Model m) =>
        m.Parameters.SelectMany(p => p.Value.Span.ToArray()).Select(BitConverter.SingleToUInt32Bits).ToArray();

    private static ResidualBlock FirstDownsampling(Model m) => ResidualBlocks.Find(m.Graph).First(b => b.Downsamples);

    [Fact]
    public void BlockNodesAreTheBranchPlusTheProjectionShortcut()
    {
        var model = TinyResNet();
        var blocks = ResidualBlocks.Find(model.Graph);
        var plain = blocks.First(b => !b.Downsamples);
        Assert.Equal(plain.Branch, BlockReinit.Nodes(model.Graph, plain));
        var down = FirstDownsampling(model);
        var names = BlockReinit.Nodes(model.Graph, down).Select(i => model.Graph.Nodes[i].Name).ToList();
        Assert.Contains("layer2.0.shortcut.0", names);
        Assert.Contains("layer2.0.shortcut.1", names);
        Assert.Contains("layer2.0.conv1", names);
        Assert.DoesNotContain("layer2.0.add", names);
        Assert.DoesNotContain(names, n => n.StartsWith("layer1.", StringComparison.Ordinal));
    }

    [Fact]
    public void ReinitCopiesTheDonorBlockAndRestoreIsBitIdentical()
    {
        var model = TinyResNet();
        var donor = new Model(model.Graph, 1);
        var before = Bits(model);
        var block = FirstDownsampling(model);
        var inside = BlockReinit.Nodes(model.Graph, block).SelectMany(n => model.NodeParameters[n]).Select(p => p.Name).ToHashSet();
        Assert.Contains("layer2.0.shortcut.1.running_var", inside);

        var snapshot = BlockReinit.Apply(model, donor, block);
        foreach (var p in model.Parameters)
        {
            var expected = inside.Contains(p.Name) ? donor.Find(p.Name)! : null;
            if (expected is not null) Assert.True(p.Value.Span.SequenceEqual(expected.Value.Span), $"{p.Name} was not reset to the donor");
        }
        Assert.NotEqual(before, Bits(model));
        snapshot.Restore();
        Assert.Equal(before, Bits(model));
    }

    [Fact]
    public void ScoringLeavesTheModelBitIdentical()
    {
        var model = TinyResNet();
        var before = Bits(model);
        var ctx = Context(model);
        SrInitPruner.ReinitAccuracies(model, ResidualBlocks.Find(model.Graph), ctx.Test, 1);
        Assert.Equal(before, Bits(model));
    }

    [Fact]
    public void DropTableIsDeterministicForASeed()
    {
        JsonNode Table(int evalSamples) =>
            new SrInitPruner(new SrInitOptions { Blocks = 2, EvalSamples = evalSamples }).Prune(Context(TinyResNet())).Details["blocks"]!;
        var a = Table(0);
        Assert.Equal(9, a.AsArray().Count);
        Assert.True(JsonNode.DeepEquals(a, Table(0)));
        Assert.Equal(2, a.AsArray().Count(r => (bool)r!["removed"]!));
        // A different evaluation slice is still a valid table, and the drops are baseline minus reset accuracy.
        var sliced = Table(20);
        Assert.Equal(9, sliced.AsArray().Count);
    }

    [Fact]
    public void BlocksKRemovesTheKSmallestDropsAmongNonDownsamplingBlocks()
    {
        var model = TinyResNet();
        var ctx = Context(model);
        long total = CostCounter.Totals(model.Graph).Params;
        var outcome = new SrInitPruner(new SrInitOptions { Blocks = 3 }).Prune(ctx);
        var rows = outcome.Details["blocks"]!.AsArray().Select(r => r!).ToList();
        var removed = rows.Where(r => (bool)r["removed"]!).ToList();
        var keptCandidates = rows.Where(r => !(bool)r["removed"]! && !(bool)r["downsamples"]!).ToList();
        Assert.Equal(3, removed.Count);
        Assert.All(removed, r => Assert.False((bool)r["downsamples"]!));
        Assert.True(removed.Max(r => (double)r["drop"]!) <= keptCandidates.Min(r => (double)r["drop"]!));
        double baseline = (double)outcome.Details["baseline_accuracy"]!;
        Assert.All(rows, r => Assert.Equal(baseline - (double)r["accuracy_reset"]!, (double)r["drop"]!, 12));

        Assert.Equal(6, ResidualBlocks.Find(outcome.Pruned.Graph).Count);
        Assert.Equal(total - removed.Sum(r => (long)r["params"]!), CostCounter.Totals(outcome.Pruned.Graph).Params);
        var x = new Tensor([2, 1, 8, 8]);
        var ex = new Executor(outcome.Pruned);
        Assert.Equal([2, 3], ex.Forward(x, training: false, forBackward: false).Shape);
        ex.EndStep();
    }

    private static List<BlockScore> Synthetic(params (double Score, long Params, bool Down)[] rows) =>
        rows.Select((r, i) => new BlockScore(i, new ResidualBlock { Name = $"b{i}", Downsamples = r.Down }, r.Score, null, r.Params, !r.Down, false)).ToList();

    [Fact]
    public void TauRemovesCandidatesAtOrBelowTheThreshold()
    {
        var table = Synthetic((0.70, 10, false), (0.60, 10, false), (0.05, 10, true), (0.59, 10, false), (0.61, 10, false));
        var (removed, met) = SrInitPruner.Select(table, new SrInitOptions { Tau = 0.60 }, 1000);
        Assert.True(met);
        Assert.Equal([1, 3], removed.Order());
        var (withDown, _) = SrInitPruner.Select(
            table.Select(r => r with { Candidate = true }).ToList(), new SrInitOptions { Tau = 0.60, IncludeDownsampling = true }, 1000);
        Assert.Equal([1, 2, 3], withDown.Order());
    }

    [Fact]
    public void BlocksKBreaksTiesByGraphOrder()
    {
        var table = Synthetic((0.2, 10, false), (0.1, 10, false), (0.2, 10, false), (0.0, 10, true));
        Assert.Equal([0, 1], SrInitPruner.Select(table, new SrInitOptions { Blocks = 2 }, 100).Removed.Order());
    }

    [Fact]
    public void TargetParamsRemovesInDropOrderUntilTheTargetIsMet()
    {
        var table = Synthetic((0.9, 100, false), (0.1, 200, false), (0.3, 300, false), (0.0, 500, true), (0.2, 50, false));
        // 2000 params, keep at most 1650: b1 (200) then b4 (50) leaves 1750; b2 (300) leaves 1450.
        var (removed, met) = SrInitPruner.Select(table, new SrInitOptions { TargetParams = 0.825 }, 2000);
        Assert.True(met);
        Assert.Equal([1, 2, 4], removed.Order());
        // Even with every candidate gone 1350 of 2000 remain.
        (removed, met) = SrInitPruner.Select(table, new SrInitOptions { TargetParams = 0.5 }, 2000);
        Assert.False(met);
        Assert.Equal([0, 1, 2, 4], removed.Order());
    }

    [Fact]
    public void TargetParamsOnARealModel()
    {
        var model = TinyResNet();
        long total = CostCounter.Totals(model.Graph).Params;
        var outcome = new SrInitPruner(new SrInitOptions { TargetParams = 0.7, Criterion = BlockCriterion.L1 }).Prune(Context(model));
        Assert.True((bool)outcome.Details["target_met"]!);
        long after = CostCounter.Totals(outcome.Pruned.Graph).Params;
        Assert.True(after <= 0.7 * total);
        // Minimal: putting back the last block removed (the highest score among the removed) would miss the target.
        var last = outcome.Details["blocks"]!.AsArray().Where(r => (bool)r!["removed"]!).MaxBy(r => (double)r!["score"]!)!;
        Assert.True(after + (long)last["params"]! > 0.7 * total);
    }

    [Fact]
    public void DownsamplingBlocksAreRemovableOnRequestAndKeepTheirProjection()
    {
        var model = TinyResNet();
        var outcome = new SrInitPruner(new SrInitOptions { Blocks = 9, Criterion = BlockCriterion.Random, IncludeDownsampling = true }).Prune(Context(model));
        Assert.Empty(ResidualBlocks.Find(outcome.Pruned.Graph));
        Assert.NotNull(outcome.Pruned.Find("layer2.0.shortcut.0.weight"));
        var ex = new Executor(outcome.Pruned);
        Assert.Equal([1, 3], ex.Forward(new Tensor([1, 1, 8, 8]), training: false, forBackward: false).Shape);
        ex.EndStep();
        Assert.Throws<LopperInputException>(() => new SrInitPruner(new SrInitOptions { Blocks = 8 }).Prune(Context(TinyResNet())));
    }

    [Fact]
    public void RandomCriterionIsSeeded()
    {
        JsonNode Run(ulong seed) => new SrInitPruner(new SrInitOptions { Blocks = 3, Criterion = BlockCriterion.Random }).Prune(Context(TinyResNet(), seed)).Details["blocks"]!;
        Assert.True(JsonNode.DeepEquals(Run(4), Run(4)));
        Assert.False(JsonNode.DeepEquals(Run(4), Run(9)));
    }

    [Theory]
    [InlineData(null, null, null, BlockCriterion.SrInit)]
    [InlineData(0.5, 2, null, BlockCriterion.SrInit)]
    [InlineData(0.5, null, null, BlockCriterion.Random)]
    [InlineData(null, -1, null, BlockCriterion.SrInit)]
    [InlineData(null, null, 1.5, BlockCriterion.L1)]
    public void BadOptionsAreInputErrors(double? tau, int? blocks, double? target, BlockCriterion criterion) =>
        Assert.Throws<LopperInputException>(() => new SrInitOptions { Tau = tau, Blocks = blocks, TargetParams = target, Criterion = criterion }.Validate());
}
