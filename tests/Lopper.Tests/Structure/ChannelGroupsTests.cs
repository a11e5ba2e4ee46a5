using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Models;
using Lopper.Structure;

namespace Lopper.Tests.Structure;

public class ChannelGroupsTests
{
    private static PruningGroup GroupOf(ModelGraph g, ChannelGroups groups, string node) => groups.Groups[groups.GroupOfNode[g.IndexOf(node)]];

    private static string[] ProducerNames(ModelGraph g, PruningGroup group) => group.Producers.Select(p => g.Nodes[p].Name).Order().ToArray();

    [Theory]
    [InlineData("resnet20", 3)]
    [InlineData("resnet56", 9)]
    public void ResidualStagesAreCoupled(string model, int blocks)
    {
        var g = ModelZoo.Create(model, [3, 32, 32], 10);
        var groups = ChannelGroups.Analyze(g);
        var stage1 = ProducerNames(g, GroupOf(g, groups, "conv1"));
        Assert.Equal(new[] { "conv1" }.Concat(Enumerable.Range(0, blocks).Select(b => $"layer1.{b}.conv2")).Order(), stage1);
        var stage2 = ProducerNames(g, GroupOf(g, groups, "layer2.0.conv2"));
        Assert.Equal(new[] { "layer2.0.shortcut.0" }.Concat(Enumerable.Range(0, blocks).Select(b => $"layer2.{b}.conv2")).Order(), stage2);
        // Inner convolutions are groups of their own.
        Assert.Equal(["layer1.0.conv1"], ProducerNames(g, GroupOf(g, groups, "layer1.0.conv1")));
        Assert.True(GroupOf(g, groups, "layer1.0.conv1").Prunable);
        // Stage 3 feeds the classifier through pooling and flatten: one column per channel.
        var stage3 = GroupOf(g, groups, "layer3.0.conv2");
        Assert.Contains(stage3.Slices, s => s.Parameter == "linear.weight" && s.Axis == 1 && s.Width == 1 && s.Consumes);
        Assert.Equal(1 + 3 * blocks + 2, groups.Prunable.Count());
    }

    [Fact]
    public void Resnet50BottlenecksAreCoupledThroughDownsample()
    {
        var g = ModelZoo.Create("resnet50", [3, 224, 224], 1000);
        var groups = ChannelGroups.Analyze(g);
        var names = ProducerNames(g, GroupOf(g, groups, "layer1.0.conv3"));
        Assert.Equal(new[] { "layer1.0.conv3", "layer1.0.downsample.0", "layer1.1.conv3", "layer1.2.conv3" }.Order(), names);
        Assert.Equal(["conv1"], ProducerNames(g, GroupOf(g, groups, "conv1")));
        Assert.Equal(["layer4.0.conv2"], ProducerNames(g, GroupOf(g, groups, "layer4.0.conv2")));
    }

    [Fact]
    public void FlattenMapsEachChannelToItsSpatialFeatures()
    {
        var g = ModelZoo.Create("lenet5", [1, 28, 28], 10);
        var groups = ChannelGroups.Analyze(g);
        var conv2 = GroupOf(g, groups, "conv2");
        var fc1 = Assert.Single(conv2.Slices, s => s.Parameter == "fc1.weight");
        Assert.Equal(1, fc1.Axis);
        Assert.Equal(25, fc1.Width);
        Assert.Equal(16, conv2.Channels);
        Assert.True(GroupOf(g, groups, "fc1").Prunable);
        Assert.False(GroupOf(g, groups, "fc3").Prunable);
        Assert.False(GroupOf(g, groups, "input").Prunable);

        var vgg = ModelZoo.Create("vgg-small", [1, 28, 28], 10);
        var vg = ChannelGroups.Analyze(vgg);
        var last = vg.Groups.Single(x => x.Slices.Any(s => s.Parameter == "classifier.weight" && s.Consumes));
        Assert.Equal(256, last.Channels);
        Assert.Equal(1, last.Slices.Single(s => s.Parameter == "classifier.weight" && s.Consumes).Width);
        Assert.Equal(6, vg.Prunable.Count());
    }

    [Fact]
    public void OpWithoutChannelMapIsRefusedByName()
    {
        var b = new GraphBuilder([1, 4, 4]);
        var x = b.Conv("conv", b.Input, 2, 3, padding: 1);
        x = b.Add("mystery", new OpaqueOp(), x);
        x = b.Flatten("flatten", x);
        b.Linear("fc", x, 2);
        var e = Assert.Throws<LopperInputException>(() => ChannelGroups.Analyze(b.Build("m")));
        Assert.Contains("mystery", e.Message);
        Assert.Contains("opaque-test", e.Message);
    }

    private sealed class OpaqueOp : Op
    {
        public override string Type => "opaque-test";
        public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.Opaque("test op");
        public override int[] OutputShape(IReadOnlyList<int[]> inputs) => inputs[0];
        public override Lopper.Tensors.Tensor Forward(Lopper.Tensors.Tensor[] inputs, Lopper.Tensors.Tensor[] parameters, NodeState state) => inputs[0].Clone();
        public override Lopper.Tensors.Tensor?[] Backward(Lopper.Tensors.Tensor gradOut, Lopper.Tensors.Tensor[] inputs, Lopper.Tensors.Tensor output, Lopper.Tensors.Tensor[] parameters, Lopper.Tensors.Tensor?[] paramGrads, NodeState state) => [gradOut];
        public override System.Text.Json.Nodes.JsonObject Attributes() => new();
    }
}
