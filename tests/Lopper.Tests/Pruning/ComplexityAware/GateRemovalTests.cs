using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Pruning.ComplexityAware;
using Lopper.Structure;
using Lopper.Tensors;

namespace Lopper.Tests.Pruning.ComplexityAware;

/// <summary>Deleting a gated-off structure is invisible in the outputs; the end state has no gates and computes the same.</summary>
public class GateRemovalTests
{
    [Theory]
    [InlineData("unit-inner")]
    [InlineData("unit-stream")]
    [InlineData("block-identity")]
    [InlineData("block-projection")]
    public void RemovingAGatedOffStructureChangesNoOutput(string which)
    {
        var model = GateFixtures.GatedTiny(11);
        var gates = GateSet.Of(model);
        var units = new Dictionary<string, int[]>();
        var blocks = new List<string>();
        switch (which)
        {
            case "unit-inner":
                {
                    var g = gates.Gates.Single(x => !x.IsBlock && x.Size == 3);
                    GateFixtures.SetTheta(gates, g, j => j == 1 ? 0f : 1f);
                    units[g.Key] = [1];
                    break;
                }
            case "unit-stream":
                {
                    var g = gates.Gates.Single(x => !x.IsBlock && x.Size == 4);
                    GateFixtures.SetTheta(gates, g, j => j is 0 or 2 ? 0f : 1f);
                    units[g.Key] = [0, 2];
                    break;
                }
            default:
                {
                    var g = gates.Gates.Single(x => x.Key == (which == "block-identity" ? "block:layer1.0" : "block:layer2.0"));
                    GateFixtures.SetTheta(gates, g, _ => 0f);
                    blocks.Add(g.Key);
                    break;
                }
        }
        var x = GateFixtures.Input(model, 3, 5);
        var before = GateFixtures.Run(model, x);
        var r = GateRemoval.Remove(model, units, blocks, escalate: false);
        Assert.True(r.Units > 0 || r.Blocks.Count > 0);
        Assert.True(ExpectedCost.Actual(r.Model.Graph).Macs < ExpectedCost.Actual(model.Graph).Macs);
        Lopper.Tests.Structure.StructureFixtures.AssertClose(before, GateFixtures.Run(r.Model, x));
        // Every surviving parameter is the slicing of its old self.
        foreach (var p in r.Model.Parameters)
            Assert.Equal(p.Value.Data, r.Slicing.TryApply(p.Name, model.Find(p.Name)!.Value)!.Data);
    }

    [Fact]
    public void EmptyingAGroupInsideABlockRemovesTheBlockWhenAllowed()
    {
        var model = GateFixtures.GatedTiny(12);
        var g = GateSet.Of(model).Gates.Single(x => !x.IsBlock && x.Size == 3);
        var units = new Dictionary<string, int[]> { [g.Key] = [0, 1, 2] };
        var kept = GateRemoval.Remove(model, units, [], escalate: false);
        Assert.Empty(kept.Blocks);
        Assert.Equal(2, kept.Units);
        var gone = GateRemoval.Remove(model, units, [], escalate: true);
        Assert.Equal(["layer1.0"], gone.Blocks);
        Assert.DoesNotContain(gone.Model.Graph.Nodes, n => n.Name.StartsWith("layer1.0.conv"));
    }

    [Fact]
    public void EndStateHasNoGatesAndEqualsTheGatedModelAtItsFinalGates()
    {
        var model = GateFixtures.GatedTiny(13);
        var gates = GateSet.Of(model);
        var rng = new Rng(4);
        // A mix of 0, 1 and fractional thetas (below 0.5: deleted; above: folded in as a scale), with the stage-2 space entirely at 0 (one channel must stay, zeroed).
        foreach (var g in gates.Gates)
        {
            if (g.Key == "block:layer1.0") GateFixtures.SetTheta(gates, g, _ => 1f);
            else if (!g.IsBlock && g.Size == 6 && g.Nodes.Length > 1) GateFixtures.SetTheta(gates, g, _ => 0f);
            else GateFixtures.SetTheta(gates, g, _ => rng.NextFloat() switch { < 0.3f => 0f, < 0.6f => 1f, var v => v });
        }
        GateFixtures.SetTheta(gates, gates.Gates.Single(g => g.Key == "block:layer2.0"), _ => 0.7f);
        var x = GateFixtures.Input(model, 4, 6);
        var before = GateFixtures.Run(model, x);
        var (r, fractional) = GateRemoval.Finish(model);
        Assert.True(fractional > 0);
        Assert.DoesNotContain(r.Model.Graph.Nodes, n => n.Op is GateOp);
        Assert.DoesNotContain("\"gate\"", ModelJson.Serialize(r.Model.Graph));
        Lopper.Tests.Structure.StructureFixtures.AssertClose(before, GateFixtures.Run(r.Model, x));
        Assert.True(r.Model.ParameterCount() < CostCounter.Totals(GateFixtures.TinyResNet()).Params);
    }
}
