using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Models;
using Lopper.Tensors;
using Lopper.Tests.Structure;

namespace Lopper.Tests.Models;

/// <summary>
/// The modern zoo models against their PyTorch definitions in bench/zoo_reference.py: parameter and MAC
/// counts (printed by `/usr/bin/python3 bench/zoo_reference.py`, torch 1.13.1) and every state-dict name and
/// shape (Fixtures/zoo_state_dicts.json, written by the same script with --state-dicts).
/// </summary>
public class ModernZooTests
{
    public static TheoryData<string, int, long, long> Counts => new()
    {
        { "mobilenetv2", 1, 2_236_106L, 72_938_624L },
        { "mobilenetv2", 3, 2_236_682L, 87_976_448L },
        { "mobilenetv3-small", 1, 1_527_818L, 14_701_896L },
        { "mobilenetv3-small", 3, 1_528_106L, 17_507_328L },
        { "shufflenetv2-0.5", 1, 351_610L, 9_040_528L },
        { "shufflenetv2-0.5", 3, 352_042L, 10_902_016L },
        { "densenet40", 1, 175_690L, 55_066_344L },
        { "densenet40", 3, 176_122L, 72_365_352L },
        { "efficientnet-b0", 1, 4_019_782L, 98_273_104L },
        { "efficientnet-b0", 3, 4_020_358L, 116_167_168L },
    };

    [Theory]
    [MemberData(nameof(Counts))]
    public void ParameterAndMacCountsMatchPyTorch(string name, int channels, long parameters, long macs)
    {
        int size = channels == 1 ? 28 : 32;
        var graph = ModelZoo.Create(name, [channels, size, size], 10);
        Assert.Equal(parameters, new Model(graph).ParameterCount());
        Assert.Equal(macs, graph.Macs());
        Assert.Equal([1, 10], graph.Nodes[^1].OutputShape);
    }

    [Theory]
    [InlineData("mobilenetv2")]
    [InlineData("mobilenetv3-small")]
    [InlineData("shufflenetv2-0.5")]
    [InlineData("densenet40")]
    [InlineData("efficientnet-b0")]
    public void StateDictNamesAndShapesMatchPyTorch(string name)
    {
        var fixture = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "zoo_state_dicts.json")))![name]!;
        var model = new Model(ModelZoo.Create(name, [3, 32, 32], 10));
        var ours = model.Parameters.ToDictionary(p => p.Name, p => string.Join("x", p.Value.Shape));
        var theirs = fixture.ToDictionary(kv => kv.Key, kv => string.Join("x", kv.Value!.AsArray().Select(d => (int)d!)));
        Assert.Equal(theirs.Keys.Order(), ours.Keys.Order());
        foreach (var (key, shape) in theirs) Assert.True(shape == ours[key], $"{key}: PyTorch {shape}, Lopper {ours[key]}");
    }

    [Theory]
    [InlineData("mobilenetv2")]
    [InlineData("mobilenetv3-small")]
    [InlineData("shufflenetv2-0.5")]
    [InlineData("densenet40")]
    [InlineData("efficientnet-b0")]
    public void TrainingStepsRunThroughTheExecutorAndLowerTheLoss(string name)
    {
        // The executor frees activations that backward does not read, so an op that wrongly reads a freed input
        // fails here even when its own gradient check (which keeps every input) passes.
        var model = StructureFixtures.Build(name, 5);
        var ex = new Executor(model);
        var x = StructureFixtures.Input(model, 4, 8);
        int[] labels = [0, 1, 2, 3];
        var opt = new Lopper.Optim.Sgd(0.9f, 0f);
        var rng = new Rng(3);
        var losses = new List<double>();
        for (int step = 0; step < 4; step++)
        {
            var y = ex.Forward(x, training: true, forBackward: true, rng);
            var g = Tensor.Pooled(y.Shape);
            losses.Add(Lopper.Training.SoftmaxCrossEntropy.Compute(y, labels, 0, g, out _));
            ex.Backward(g);
            ex.EndStep();
            foreach (var p in model.Parameters)
                if (p.Trainable) Assert.True(float.IsFinite(System.Numerics.Tensors.TensorPrimitives.SumOfSquares<float>(p.Grad!.Span)), $"{p.Name}: gradient not finite");
            opt.Step(model.Parameters, 0.02f);
        }
        Assert.True(losses[^1] < losses[0], $"loss {string.Join(" -> ", losses)} did not fall on a fixed batch");
    }
}
