using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Pruning.ComplexityAware;

namespace Lopper.Tests.Pruning.ComplexityAware;

public class FoldSelectionTests
{
    private static long Macs(Model m) => ExpectedCost.Actual(m.Graph).Macs;

    /// <summary>Identity block at the lowest theta (below 0.5 too), units spread above it at distinct thetas.</summary>
    private static Model Gated(float blockTheta)
    {
        var model = GateFixtures.GatedTiny(21);
        var gates = GateSet.Of(model);
        int k = 0;
        foreach (var g in gates.Gates)
        {
            if (g.Key == "block:layer1.0") GateFixtures.SetTheta(gates, g, _ => blockTheta);
            else if (g.IsBlock) GateFixtures.SetTheta(gates, g, _ => 1f);
            else GateFixtures.SetTheta(gates, g, _ => 0.6f + 0.01f * k++);
        }
        return model;
    }

    private static long MacsWithout(Model gated, Func<string, int, float, bool> delete) => Macs(GateRemoval.Finish(gated.Copy(), delete).Result.Model);

    [Theory]
    [InlineData(0.55f)]
    [InlineData(0.3f)] // below the spec's rounding: the budget still keeps it
    public void ABlockThatWouldOvershootTheBudgetStaysAndUnitsGoInstead(float blockTheta)
    {
        var gated = Gated(blockTheta);
        long dense = MacsWithout(gated, (_, _, _) => false);
        long noBlock = MacsWithout(gated, (key, _, _) => key == "block:layer1.0");
        long block = dense - noBlock;
        // Half a block under the dense cost: deleting the block lands half a block below, far past a 2% tolerance.
        double budget = dense - block / 2.0, tolerance = 0.02 * dense;
        Assert.True(block / 2.0 > tolerance);

        var choice = FoldSelection.Choose(gated, Macs, budget, tolerance);

        Assert.True(choice.Reached);
        Assert.Equal(["layer1.0"], choice.KeptBlocks);
        Assert.DoesNotContain(("block:layer1.0", 0), choice.Deleted);
        var (result, _) = GateRemoval.Finish(gated.Copy(), (key, j, _) => choice.Deleted.Contains((key, j)));
        Assert.Contains(result.Model.Graph.Nodes, n => n.Name.StartsWith("layer1.0.conv", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Model.Graph.Nodes, n => n.Op is GateOp);
        long kept = Macs(result.Model);
        Assert.True(kept <= budget, $"{kept} MACs kept, budget {budget}");
        // The smallest such deletion: giving back the highest-theta entry deleted breaks the budget.
        var last = choice.Deleted.OrderBy(e => ThetaOf(gated, e)).Last();
        Assert.Equal(choice.LastTheta, ThetaOf(gated, last));
        Assert.True(MacsWithout(gated, (key, j, _) => choice.Deleted.Contains((key, j)) && (key, j) != last) > budget);
    }

    [Fact]
    public void WithoutATolerance_TheLowestThetaGoesFirstEvenIfItIsABlock()
    {
        var gated = Gated(0.55f);
        long dense = MacsWithout(gated, (_, _, _) => false);
        long noBlock = MacsWithout(gated, (key, _, _) => key == "block:layer1.0");
        var choice = FoldSelection.Choose(gated, Macs, dense - (dense - noBlock) / 2.0, tolerance: dense);
        Assert.Empty(choice.KeptBlocks);
        Assert.Equal([("block:layer1.0", 0)], choice.Deleted);
    }

    [Fact]
    public void AnUnreachableBudgetDeletesEveryUnsettledGateAndSaysSo()
    {
        var gated = Gated(0.55f);
        var choice = FoldSelection.Choose(gated, Macs, budget: 1, tolerance: 0);
        Assert.False(choice.Reached);
        int unsettled = GateSet.Of(gated).Gates.Sum(g => GateSet.Of(gated).Read(g, GateOp.ThetaIndex).ToArray().Count(t => t is > 0f and < 1f));
        Assert.Equal(unsettled, choice.Deleted.Count);
    }

    private static float ThetaOf(Model gated, (string Key, int Index) e)
    {
        var gates = GateSet.Of(gated);
        return gates.Read(gates.Gates.Single(g => g.Key == e.Key), GateOp.ThetaIndex)[e.Index];
    }
}
