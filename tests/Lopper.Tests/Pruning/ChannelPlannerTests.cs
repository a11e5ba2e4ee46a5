using Lopper.Pruning;
using Lopper.Structure;
using Lopper.Tests.Structure;

namespace Lopper.Tests.Pruning;

public class ChannelPlannerTests
{
    [Theory]
    [InlineData("resnet20", BudgetKind.Macs, 0.5, "global")]
    [InlineData("resnet20", BudgetKind.Params, 0.3, "layer")]
    [InlineData("vgg-small", BudgetKind.Macs, 0.3, "global")]
    [InlineData("lenet5", BudgetKind.Macs, 0.5, "global")]
    public void MeetsTheBudgetTightly(string name, BudgetKind kind, double fraction, string scope)
    {
        var model = StructureFixtures.Build(name, 1);
        var groups = ChannelGroups.Analyze(model.Graph);
        var sel = ChannelPlanner.Plan(model.Graph, groups, ChannelImportance.L1(model, groups), new Budget(kind, fraction, scope));
        var resized = ChannelSurgery.ResizedGraph(model.Graph, groups, g => sel.KeptCount(groups.Groups[g]));
        var (p0, m0) = CostCounter.Totals(model.Graph);
        var (p, m) = CostCounter.Totals(resized);
        double kept = kind == BudgetKind.Macs ? (double)m / m0 : (double)p / p0;
        Assert.InRange(kept, fraction - 0.02, fraction);
    }

    [Fact]
    public void LayerLimitAndRoundingHold()
    {
        var model = StructureFixtures.Build("vgg-small", 2);
        var groups = ChannelGroups.Analyze(model.Graph);
        var sel = ChannelPlanner.Plan(model.Graph, groups, ChannelImportance.L1(model, groups), new Budget(BudgetKind.Macs, 0.2, "global", 0.6, 8));
        foreach (var g in groups.Prunable)
        {
            int kept = sel.KeptCount(g);
            Assert.True(kept >= 0.4 * g.Channels - 1e-9, $"{g.Name} kept {kept}/{g.Channels}");
            Assert.True(kept % 8 == 0 || kept == g.Channels, $"{g.Name} kept {kept}");
        }
    }

    [Fact]
    public void LowestScoresGoFirst()
    {
        var model = StructureFixtures.Build("lenet5", 3);
        var groups = ChannelGroups.Analyze(model.Graph);
        var scores = ChannelImportance.L1(model, groups);
        var sel = ChannelPlanner.Plan(model.Graph, groups, scores, new Budget(BudgetKind.Params, 0.5, "layer"));
        foreach (var g in groups.Prunable)
        {
            var removed = sel.Removed(g);
            var kept = sel.Kept(g.Id) ?? Enumerable.Range(0, g.Channels).ToArray();
            if (removed.Length == 0) continue;
            Assert.True(removed.Max(c => scores[g.Id][c]) <= kept.Min(c => scores[g.Id][c]));
        }
    }
}
