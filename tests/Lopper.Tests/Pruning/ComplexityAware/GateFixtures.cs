using Lopper.Models;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Pruning.ComplexityAware;
using Lopper.Structure;
using Lopper.Tensors;

namespace Lopper.Tests.Pruning.ComplexityAware;

/// <summary>A tiny residual network (identity block + projection block) and helpers for gated copies of it.</summary>
internal static class GateFixtures
{
    /// <summary>1x8x8 input: stem 4 channels, an identity block (inner width 3), a down-sampling block to 6, linear to 3 classes.</summary>
    public static ModelGraph TinyResNet()
    {
        var b = new GraphBuilder([1, 8, 8]);
        var x = b.Conv("conv1", b.Input, 4, 3, padding: 1);
        x = b.BatchNorm("bn1", x);
        x = b.Relu("relu", x);
        x = ResNetCifar.BasicBlock(b, "layer1.0", x, 4, 1, inner: 3);
        x = ResNetCifar.BasicBlock(b, "layer2.0", x, 6, 2, inner: 6);
        x = b.GlobalAvgPool("avgpool", x);
        x = b.Flatten("flatten", x);
        b.Linear("linear", x, 3);
        return b.Build("tiny-resnet");
    }

    /// <summary>Gated tiny ResNet with random weights and batch-norm statistics.</summary>
    public static Model GatedTiny(ulong seed, int batch = 8)
    {
        var dense = Lopper.Tests.Structure.StructureFixtures.RandomizeBatchNorm(new Model(TinyResNet(), seed), seed);
        return GateInsertion.Insert(dense, batch);
    }

    /// <summary>Sets every theta of gate <paramref name="g"/> (all its nodes).</summary>
    public static void SetTheta(GateSet gates, LogicalGate g, Func<int, float> value)
    {
        var t = gates.Read(g, GateOp.ThetaIndex);
        for (int j = 0; j < t.Length; j++) t[j] = value(j);
        gates.Sync(g, GateOp.ThetaIndex);
    }

    public static Tensor Input(Model m, int batch, ulong seed) => Lopper.Tests.Structure.StructureFixtures.Input(m, batch, seed);

    public static float[] Run(Model m, Tensor x) => Lopper.Tests.Structure.StructureFixtures.Run(m, x);
}
