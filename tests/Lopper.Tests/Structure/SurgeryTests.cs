using Lopper.Graph;
using Lopper.Io;
using Lopper.Pruning;
using Lopper.Structure;
using Lopper.Tests.Data;
using static Lopper.Tests.Structure.StructureFixtures;

namespace Lopper.Tests.Structure;

public class SurgeryTests
{
    [Theory]
    [MemberData(nameof(ZooNames), MemberType = typeof(StructureFixtures))]
    public void CompactedChannelsMatchMaskedOutputs(string name)
    {
        var model = Build(name, 3);
        var groups = ChannelGroups.Analyze(model.Graph);
        var sel = RandomSelection(groups, 11);
        ChannelSurgery.Mask(model, groups, sel);
        var x = Input(model, 2, 5);
        var masked = Run(model, x);
        var compact = ChannelSurgery.Compact(model, groups, sel);
        Assert.True(compact.ParameterCount() < model.ParameterCount());
        Assert.True(compact.Graph.Macs() < model.Graph.Macs());
        AssertClose(masked, Run(compact, x));
    }

    [Theory]
    [InlineData("resnet20")]
    [InlineData("resnet32")]
    [InlineData("resnet56")]
    [InlineData("resnet110")]
    [InlineData("resnet18")]
    [InlineData("resnet50")]
    public void CompactedBlocksMatchMaskedOutputs(string name)
    {
        var model = Build(name, 4);
        var blocks = ResidualBlocks.Find(model.Graph);
        var firstDown = blocks.First(b => b.Downsamples);
        var chosen = blocks.Where((b, i) => i % 2 == 1 || b == firstDown).ToList();
        Assert.Contains(chosen, b => b.Downsamples);
        BlockSurgery.Mask(model, chosen);
        var x = Input(model, 2, 6);
        var masked = Run(model, x);
        var compact = BlockSurgery.Compact(model, chosen);
        Assert.Equal(blocks.Count - chosen.Count, ResidualBlocks.Find(compact.Graph).Count);
        AssertClose(masked, Run(compact, x));
    }

    [Fact]
    public void ResnetBlocksAreFoundWithTheirShortcuts()
    {
        var g = Lopper.Models.ModelZoo.Create("resnet56", [3, 32, 32], 10);
        var blocks = ResidualBlocks.Find(g);
        Assert.Equal(27, blocks.Count);
        Assert.Equal(2, blocks.Count(b => b.Downsamples));
        Assert.Equal("layer2.0", blocks.First(b => b.Downsamples).Name);
        var first = blocks[0];
        Assert.Equal(["layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu1", "layer1.0.conv2", "layer1.0.bn2"], first.Branch.Select(i => g.Nodes[i].Name));
        Assert.Equal(16, Lopper.Models.ModelZoo.Create("resnet50", [3, 224, 224], 1000) is var r50 ? ResidualBlocks.Find(r50).Count : 0);
    }

    [Fact]
    public void MaskedWeightsStayZeroWhileTraining()
    {
        var model = Build("resnet20", 7);
        var groups = ChannelGroups.Analyze(model.Graph);
        var sel = RandomSelection(groups, 2);
        var blocks = ResidualBlocks.Find(model.Graph).Take(1).ToList();
        var masks = new ParameterMasks().AddChannels(model, groups, sel).AddBlocks(model, blocks).AddColumns(model, "layer3.0.conv1.weight", [0, 5, 17]);
        var hook = new MaskHook(masks);
        var opt = new Lopper.Optim.Sgd(0.9f, 5e-4f);
        var ex = new Executor(model);
        var rng = new Lopper.Tensors.Rng(1);
        for (int step = 0; step < 3; step++)
        {
            hook.BeforeStep(model, 0, step);
            var x = Input(model, 4, (ulong)step);
            var y = ex.Forward(x, training: true, forBackward: true, rng);
            var g = Lopper.Tensors.Tensor.Pooled(y.Shape);
            Lopper.Training.SoftmaxCrossEntropy.Compute(y, [0, 1, 2, 3], 0, g, out _);
            ex.Backward(g);
            ex.EndStep();
            hook.AfterBackward(model, 0, step);
            opt.Step(model.Parameters, 0.1f);
            hook.AfterStep(model, 0, step);
        }
        long zeros = 0;
        foreach (var name in masks.Names)
        {
            var m = masks.Of(name)!.Data;
            var w = model.Find(name)!.Value.Data;
            for (int i = 0; i < m.Length; i++)
                if (m[i] == 0) { Assert.Equal(0f, w[i]); zeros++; }
        }
        Assert.Equal(masks.ZeroCount(), zeros);
        Assert.True(zeros > 1000);
        // Forward of a masked channel is exactly zero after the BN-ReLU that follows it.
        var inner = groups.Groups[groups.GroupOfNode[model.Graph.IndexOf("layer2.1.conv1")]];
        var removed = sel.Removed(inner);
        Assert.NotEmpty(removed);
        var probe = new Executor(model);
        float maxAbs = 0;
        probe.AfterForward = (node, t) =>
        {
            if (node.Name != "layer2.1.relu1") return;
            int c = t.Shape[1], plane = t.Shape[2] * t.Shape[3];
            for (int n = 0; n < t.Shape[0]; n++)
                foreach (int ch in removed)
                    for (int i = 0; i < plane; i++) maxAbs = Math.Max(maxAbs, Math.Abs(t.Data[(n * c + ch) * plane + i]));
        };
        probe.Forward(Input(model, 2, 9), training: true, forBackward: false, rng);
        probe.EndStep();
        Assert.Equal(0f, maxAbs);
    }

    [Fact]
    public void CompactedModelReloadsWithoutKnowingHowItWasPruned()
    {
        using var dir = new TempDir();
        var model = Build("resnet20", 8);
        var groups = ChannelGroups.Analyze(model.Graph);
        var sel = RandomSelection(groups, 3);
        ChannelSurgery.Mask(model, groups, sel);
        var compact = ChannelSurgery.Compact(model, groups, sel, "resnet20-pruned");
        var blocks = ResidualBlocks.Find(compact.Graph).Take(2).ToList();
        var smaller = BlockSurgery.Compact(compact, blocks);
        ModelStore.Save(smaller, dir.Path);
        var loaded = ModelStore.Load(dir.Path);
        var x = Input(model, 2, 1);
        Assert.Equal(Run(smaller, x), Run(loaded, x));
    }
}
