using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using Lopper.Tests.Structure;
using static Lopper.Tests.Graph.GradCheck;

namespace Lopper.Tests.Graph;

public class InferenceFoldingTests
{
    [Theory]
    [MemberData(nameof(StructureFixtures.ZooNames), MemberType = typeof(StructureFixtures))]
    public void FoldedModelGivesTheSameOutputs(string name)
    {
        var model = StructureFixtures.Build(name, 31);
        var folded = InferenceFolding.Fold(model);
        var x = StructureFixtures.Input(model, 2, 4);
        StructureFixtures.AssertClose(StructureFixtures.Run(model, x), StructureFixtures.Run(folded, x));
        bool hasBn = model.Graph.Nodes.Any(n => n.Op is BatchNorm2dOp);
        if (hasBn)
        {
            Assert.True(folded.Graph.Nodes.Count < model.Graph.Nodes.Count);
            Assert.DoesNotContain(folded.Graph.Nodes, n => n.Op is BatchNorm2dOp);
            Assert.Contains(folded.Graph.Nodes, n => n.Op is Conv2dOp { FusedRelu: true });
        }
        Assert.Equal(model.Graph.Macs(), folded.Graph.Macs());
    }

    [Theory]
    [InlineData(3, 1, 1)]
    [InlineData(1, 2, 0)]
    public void FusedReluConvolutionGradients(int kernel, int stride, int padding)
    {
        var rng = new Rng(12);
        var op = new Conv2dOp(2, 3, kernel, stride, padding, true, null, relu: true);
        // Positive bias keeps most outputs away from the kink, where finite differences are unreliable.
        var bias = new Tensor([3], [0.7f, 1.1f, 0.9f]);
        CheckOp(op, [Randn(rng, 2, 2, 5, 5)], [Randn(rng, 3, 2, kernel, kernel), bias], [true, true]);
    }
}
