using Lopper.Pruning;
using Lopper.Structure;
using static Lopper.Tests.Structure.StructureFixtures;

namespace Lopper.Tests.Structure;

public class EffectiveCostTests
{
    [Fact]
    public void MaskedModelCostsWhatItsCompactionCosts()
    {
        var model = Build("resnet20", 21);
        var groups = ChannelGroups.Analyze(model.Graph);
        var sel = RandomSelection(groups, 4);
        ChannelSurgery.Mask(model, groups, sel);
        var compact = ChannelSurgery.Compact(model, groups, sel);
        var effective = EffectiveCost.Of(model);
        Assert.Equal(CostCounter.Totals(compact.Graph), (effective.Params, effective.Macs));
        Assert.True(effective.Macs < model.Graph.Macs());
    }

    [Fact]
    public void ZeroBlocksAndFiltersAreNotCounted()
    {
        var model = Build("resnet20", 22);
        var blocks = ResidualBlocks.Find(model.Graph);
        BlockSurgery.Mask(model, [blocks[1]]);
        // Zero one inner filter on the producing side only (weights, BN scale and shift): it always outputs 0.
        foreach (var name in new[] { "layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias" })
        {
            var p = model.Find(name)!.Value;
            int per = p.Length / p.Shape[0];
            p.Span.Slice(3 * per, per).Clear();
        }
        var effective = EffectiveCost.Of(model);
        var expected = BlockSurgery.Compact(model, [blocks[1]]);
        long blockMacs = model.Graph.Macs() - expected.Graph.Macs();
        Assert.True(blockMacs > 0);
        // One 3x3 filter of 16 inputs at 28x28 in conv1, and its 3x3 input column block in conv2 (16 filters).
        long filterMacs = 2L * 16 * 9 * 28 * 28;
        Assert.Equal(model.Graph.Macs() - blockMacs - filterMacs, effective.Macs);
    }
}
