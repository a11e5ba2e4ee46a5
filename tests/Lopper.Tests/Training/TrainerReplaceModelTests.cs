using Lopper.Data;
using Lopper.Graph;
using Lopper.Structure;
using Lopper.Tensors;
using Lopper.Tests.Pruning.ComplexityAware;
using Lopper.Training;

namespace Lopper.Tests.Training;

/// <summary>A hook swaps a compacted model into a running trainer; momentum follows the surviving slices.</summary>
public class TrainerReplaceModelTests
{
    private sealed class SwapAt(Trainer trainer, int atStep, Func<Model, (Model, ParameterSlicing)> make) : ITrainingHook
    {
        public Dictionary<string, Tensor>? Before, After;
        public Model? Swapped;
        public List<Model> Seen { get; } = new();

        public void BeforeStep(Model model, int epoch, int step) => Seen.Add(model);

        public void AfterStep(Model model, int epoch, int step)
        {
            if (step != atStep) return;
            Before = trainer.Optimizer.State.ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
            var (m, s) = make(model);
            Swapped = m;
            trainer.ReplaceModel(m, s);
            After = trainer.Optimizer.State.ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
        }
    }

    private static (DataLoader Train, DataLoader Test) Loaders(TrainConfig c)
    {
        var train = TinyTask.Data(64, 1);
        var test = TinyTask.Data(24, 2);
        var (mean, std) = train.ChannelStats();
        return (new DataLoader(train, c.BatchSize, c.Seed, shuffle: true, mean, std), new DataLoader(test, 12, c.Seed, shuffle: false, mean, std));
    }

    [Fact]
    public void MomentumIsSlicedForSurvivorsAndDroppedForRemovedParameters()
    {
        var config = TinyTask.Config(2) with { CropPadding = 0, Flip = false };
        var (train, test) = Loaders(config);
        var model = new Model(GateFixtures.TinyResNet(), 3);
        var trainer = new Trainer(model, config, train, test, null);
        ParameterSlicing? slicing = null;
        var hook = new SwapAt(trainer, 2, m =>
        {
            // Delete the identity block, then two channels of the projection block's inner width.
            var block = ResidualBlocks.Find(m.Graph).Single(b => b.Name == "layer1.0");
            var noBlock = BlockSurgery.Compact(m, [block]);
            var groups = ChannelGroups.Analyze(noBlock.Graph);
            var inner = groups.Groups[groups.GroupOfNode[noBlock.Graph.IndexOf("layer2.0.conv1")]];
            var sel = new ChannelSelection();
            sel.Keep(inner, [0, 2, 3, 5]);
            var compact = ChannelSurgery.Compact(noBlock, groups, sel);
            slicing = ParameterSlicing.Identity(noBlock).Then(ParameterSlicing.ForChannels(noBlock, groups, sel));
            return (compact, slicing);
        });
        trainer.AddHook(hook);
        trainer.Run();

        Assert.Same(hook.Swapped, trainer.Model);
        int steps = hook.Seen.Count;
        Assert.All(hook.Seen.Skip(3), m => Assert.Same(hook.Swapped, m));
        Assert.Equal(train.BatchesPerEpoch * 2, steps);
        var state = trainer.Optimizer.State;
        Assert.DoesNotContain(state.Keys, k => k.Contains("layer1.0.conv"));
        // Momentum right after the swap is the old buffer cut like the weights.
        var cut = slicing!.TryApply("layer2.0.conv1.weight", hook.Before!["momentum/layer2.0.conv1.weight"])!;
        Assert.Equal([4, 4, 3, 3], cut.Shape);
        var old = hook.Before!["momentum/layer2.0.conv1.weight"];
        int plane = 4 * 9;
        for (int e = 0; e < plane; e++) Assert.Equal(old.Data[2 * plane + e], cut.Data[1 * plane + e]);
        Assert.Equal(cut.Data, hook.After!["momentum/layer2.0.conv1.weight"].Data);
        Assert.Equal(hook.Before!["momentum/linear.weight"].Data, hook.After!["momentum/linear.weight"].Data);
        Assert.DoesNotContain(hook.After!.Keys, k => k.Contains("layer1.0.conv"));
        var conv2In = slicing.TryApply("layer2.0.conv2.weight", hook.Before!["momentum/layer2.0.conv2.weight"])!;
        Assert.Equal([6, 4, 3, 3], conv2In.Shape);
        foreach (var (k, t) in state) Assert.Equal(trainer.Model.Find(k["momentum/".Length..])!.Spec.Shape, t.Shape);
        Assert.Equal(trainer.Model.Parameters.Count(p => p.Trainable), state.Count);
        Assert.True((double)trainer.History[^1]!["test_accuracy"]! >= 0);
    }
}
