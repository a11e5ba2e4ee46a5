using Lopper.Graph;
using Lopper.Models;
using Lopper.Structure;
using Lopper.Tensors;

namespace Lopper.Tests.Structure;

internal static class StructureFixtures
{
    /// <summary>Zoo models with inputs small enough for a quick forward pass.</summary>
    public static readonly (string Name, int[] Input)[] Zoo =
    [
        ("lenet5", [1, 28, 28]), ("vgg-small", [1, 28, 28]), ("vgg11", [3, 32, 32]), ("vgg16", [3, 32, 32]),
        ("resnet20", [1, 28, 28]), ("resnet32", [3, 32, 32]), ("resnet56", [3, 32, 32]), ("resnet110", [3, 16, 16]),
        ("resnet18", [3, 64, 64]), ("resnet50", [3, 64, 64]),
        ("mobilenetv2", [3, 32, 32]), ("mobilenetv3-small", [3, 32, 32]), ("shufflenetv2-0.5", [1, 28, 28]),
        ("densenet40", [3, 32, 32]), ("efficientnet-b0", [1, 28, 28]),
    ];

    public static IEnumerable<object[]> ZooNames() => Zoo.Select(z => new object[] { z.Name });

    public static Model Build(string name, ulong seed)
    {
        var input = Zoo.First(z => z.Name == name).Input;
        return RandomizeBatchNorm(new Model(ModelZoo.Create(name, input, 10), seed), seed);
    }

    /// <summary>
    /// Gives every batch-norm non-trivial scale, shift and running statistics, so zeroed channels,
    /// resets and restored shapes are really exercised. Returns the same model.
    /// </summary>
    public static Model RandomizeBatchNorm(Model model, ulong seed)
    {
        var rng = new Rng(seed + 100);
        foreach (var p in model.Parameters)
        {
            if (p.Owner.Op.Type != "batchnorm2d") continue;
            var s = p.Value.Span;
            for (int i = 0; i < s.Length; i++)
                s[i] = p.Spec.Name switch
                {
                    "weight" => 0.5f + rng.NextFloat(),
                    "bias" => (float)(rng.NextNormal() * 0.1),
                    "running_mean" => (float)(rng.NextNormal() * 0.1),
                    _ => 0.5f + rng.NextFloat(),
                };
        }
        return model;
    }

    public static Tensor Input(Model model, int batch, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new Tensor([batch, .. model.Graph.InputShape]);
        for (int i = 0; i < x.Length; i++) x.Data[i] = (float)rng.NextNormal();
        return x;
    }

    public static float[] Run(Model model, Tensor x)
    {
        var ex = new Executor(model);
        var y = ex.Forward(x, training: false, forBackward: false);
        var r = (float[])y.Data.Clone();
        ex.EndStep();
        return r;
    }

    public static void AssertClose(float[] expected, float[] actual, double rel = 1e-4)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(v => Math.Abs(v)) + 1e-6;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= rel * scale + 1e-6 * Math.Abs(expected[i]),
                $"output {i}: masked {expected[i]} vs compacted {actual[i]}");
    }

    /// <summary>Keeps a random 30-80% of every prunable group.</summary>
    public static ChannelSelection RandomSelection(ChannelGroups groups, ulong seed)
    {
        var rng = new Rng(seed);
        var sel = new ChannelSelection();
        foreach (var g in groups.Prunable)
        {
            int keep = Math.Max(1, (int)(g.Channels * (0.3 + 0.5 * rng.NextDouble())));
            var idx = Enumerable.Range(0, g.Channels).ToArray();
            rng.Shuffle(idx);
            sel.Keep(g, idx.Take(keep));
        }
        return sel;
    }
}
