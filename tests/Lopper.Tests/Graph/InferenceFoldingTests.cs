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
        var g = model.Graph;
        // Every batch-norm that is its convolution's only reader folds into it (pre-activation ones, as DenseNet's
        // after a concatenation or beside one, have no convolution of their own and stay).
        static bool Foldable(ModelGraph graph, Node n)
            => n.Op is BatchNorm2dOp && graph.Nodes[n.InputIndices[0]].Op is Conv2dOp && graph.Consumers()[n.InputIndices[0]].Count == 1;
        if (g.Nodes.Any(n => Foldable(g, n)))
        {
            Assert.True(folded.Graph.Nodes.Count < g.Nodes.Count);
            Assert.DoesNotContain(folded.Graph.Nodes, n => Foldable(folded.Graph, n));
        }
        bool convBnRelu = g.Nodes.Any(n => n.Op is ReluOp && g.Nodes[n.InputIndices[0]].Op is BatchNorm2dOp bn && g.Nodes[g.Nodes[n.InputIndices[0]].InputIndices[0]].Op is Conv2dOp);
        if (convBnRelu) Assert.Contains(folded.Graph.Nodes, n => n.Op is Conv2dOp { FusedRelu: true });
        // A ReLU6 after a batch-normed convolution goes into it too, and its bound survives model.json.
        bool convBnRelu6 = g.Nodes.Any(n => n.Op is ClipOp { Min: 0, Max: 6 } && g.Nodes[n.InputIndices[0]].Op is BatchNorm2dOp bn && g.Nodes[g.Nodes[n.InputIndices[0]].InputIndices[0]].Op is Conv2dOp);
        if (convBnRelu6)
        {
            Assert.Contains(folded.Graph.Nodes, n => n.Op is Conv2dOp { FusedRelu: true, ReluMax: 6 });
            Assert.DoesNotContain(folded.Graph.Nodes, n => n.Op is ClipOp && folded.Graph.Nodes[n.InputIndices[0]].Op is Conv2dOp { FusedRelu: true });
            var reloaded = ModelJson.Parse(ModelJson.Serialize(folded.Graph), "folded");
            Assert.Equal(folded.Graph.Nodes.Count(n => n.Op is Conv2dOp { ReluMax: 6 }), reloaded.Nodes.Count(n => n.Op is Conv2dOp { ReluMax: 6 }));
        }
        var consumers = g.Consumers();
        bool addThenRelu = g.Nodes.Select((n, i) => (n, i)).Any(t => t.n.Op is AddOp && consumers[t.i].Count == 1 && g.Nodes[consumers[t.i][0]].Op is ReluOp);
        if (addThenRelu) Assert.DoesNotContain(folded.Graph.Nodes, n => n.Op is ReluOp);
        if (name.StartsWith("resnet", StringComparison.Ordinal))
        {
            // Every residual join of the zoo's ResNets reads a batch-normed convolution: all of them become epilogues.
            int adds = g.Nodes.Count(n => n.Op is AddOp);
            Assert.Equal(adds, folded.Graph.Nodes.Count(n => n.Op is Conv2dOp { AddsResidual: true, FusedRelu: true }));
            Assert.DoesNotContain(folded.Graph.Nodes, n => n.Op is AddOp);
        }
        Assert.Equal(model.Graph.Macs(), folded.Graph.Macs());
    }

    [Fact]
    public void ReluOfRemovedBlocksGoesWhenItsInputIsAlreadyNonNegative()
    {
        // Removing a ResNet-20 block leaves its final ReLU on the identity path, reading the previous block's ReLU.
        var model = StructureFixtures.Build("resnet20", 5);
        var blocks = Lopper.Structure.ResidualBlocks.Find(model.Graph);
        var removed = Lopper.Structure.BlockSurgery.Compact(model, [blocks[0], blocks[1], blocks[4]]);
        var g = removed.Graph;
        int leftOver = g.Nodes.Count(n => n.Op is ReluOp && g.Nodes[n.InputIndices[0]].Op is ReluOp);
        Assert.Equal(3, leftOver);
        var folded = InferenceFolding.Fold(removed);
        Assert.DoesNotContain(folded.Graph.Nodes, n => n.Op is ReluOp);
        var x = StructureFixtures.Input(removed, 2, 8);
        StructureFixtures.AssertClose(StructureFixtures.Run(removed, x), StructureFixtures.Run(folded, x));
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

    [Theory]
    [InlineData(13)]   // wide enough for PaddedConv: bias and ReLU are applied as its result is copied out
    [InlineData(5)]
    public void FusedReluEqualsConvolutionThenRelu(int size)
    {
        // Exact algebra instead of finite differences (a 13x13 output has values at the kink): the fused op's
        // output is max(conv + bias, 0) and its gradients are the plain convolution's with the masked gradient.
        var rng = new Rng(13);
        var x = Randn(rng, 2, 2, size, size);
        var w = Randn(rng, 3, 2, 3, 3);
        var bias = Randn(rng, 3);
        var fused = new Conv2dOp(2, 3, 3, 1, 1, true, null, relu: true);
        var plain = new Conv2dOp(2, 3, 3, 1, 1, true);
        NodeState State() => new() { NeedsInputGrad = [true], WillBackward = true, Training = true };
        var sf = State(); var sp = State();
        var yf = fused.Forward([x], [w, bias], sf);
        var yp = plain.Forward([x], [w, bias], sp);
        for (int i = 0; i < yp.Length; i++) Assert.Equal(Math.Max(yp.Data[i], 0f), yf.Data[i], 1e-5f);
        var g = Randn(rng, yp.Shape);
        var gMasked = new Tensor(yp.Shape);
        for (int i = 0; i < g.Length; i++) gMasked.Data[i] = yp.Data[i] > 0 ? g.Data[i] : 0f;
        Tensor?[] dpf = [new Tensor(w.Shape), new Tensor(bias.Shape)], dpp = [new Tensor(w.Shape), new Tensor(bias.Shape)];
        var dxf = fused.Backward(g.Clone(), [x], yf, [w, bias], dpf, sf)[0]!;
        var dxp = plain.Backward(gMasked, [x], yp, [w, bias], dpp, sp)[0]!;
        for (int i = 0; i < x.Length; i++) Assert.Equal(dxp.Data[i], dxf.Data[i], 1e-4f);
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < dpp[k]!.Length; i++) Assert.Equal(dpp[k]!.Data[i], dpf[k]!.Data[i], 1e-3f);
    }

    [Theory]
    [InlineData(3, 1, 1, 13, 4, 6, 1)]    // PaddedConv: clamped per image after its copy-out
    [InlineData(3, 2, 1, 9, 4, 6, 1)]     // StridedConv
    [InlineData(1, 1, 0, 6, 8, 12, 1)]    // pointwise GEMM: in the epilogue pass
    [InlineData(3, 1, 1, 9, 6, 6, 6)]     // depthwise kernel: in its epilogue pass
    public void FusedReluMaxEqualsConvolutionThenClip(int kernel, int stride, int padding, int size, int inC, int outC, int groups)
    {
        var rng = new Rng(15);
        var x = Randn(rng, 2, inC, size, size);
        var w = Randn(rng, outC, inC / groups, kernel, kernel);
        var bias = Randn(rng, outC);
        var plain = new Conv2dOp(inC, outC, kernel, stride, padding, true, groups: groups);
        var fused = new Conv2dOp(inC, outC, kernel, stride, padding, true, null, relu: true, groups: groups, reluMax: 0.5f);
        NodeState State() => new() { NeedsInputGrad = [true], WillBackward = true, Training = true };
        var sp = State(); var sf = State();
        var yp = plain.Forward([x], [w, bias], sp);
        var yf = fused.Forward([x], [w, bias], sf);
        int clipped = 0;
        for (int i = 0; i < yp.Length; i++)
        {
            Assert.Equal(Math.Clamp(yp.Data[i], 0f, 0.5f), yf.Data[i], 1e-4f);
            if (yp.Data[i] > 0.5f) clipped++;
        }
        Assert.True(clipped > 0);
        // Backward: the plain convolution's gradients with the gradient zero where the output sits at either bound.
        var g = Randn(rng, yp.Shape);
        var gMasked = new Tensor(yp.Shape);
        for (int i = 0; i < g.Length; i++) gMasked.Data[i] = yf.Data[i] > 0 && yf.Data[i] < 0.5f ? g.Data[i] : 0f;
        Tensor?[] dpf = [new Tensor(w.Shape), new Tensor(bias.Shape)], dpp = [new Tensor(w.Shape), new Tensor(bias.Shape)];
        var dxf = fused.Backward(g.Clone(), [x], yf, [w, bias], dpf, sf)[0]!;
        var dxp = plain.Backward(gMasked, [x], yp, [w, bias], dpp, sp)[0]!;
        for (int i = 0; i < x.Length; i++) Assert.Equal(dxp.Data[i], dxf.Data[i], 1e-4f);
        Assert.Equal(0.5f, ((Conv2dOp)Conv2dOp.FromJson(fused.Attributes())).ReluMax);
        Assert.Throws<LopperInputException>(() => new Conv2dOp(inC, outC, kernel, stride, padding, true, reluMax: 6));
    }

    [Theory]
    [InlineData(3, 1, 1, 20, 16, 16)]  // PaddedConv's GEMM on row pointers: the residual is added as rows are copied out
    [InlineData(3, 1, 1, 7, 40, 24)]   // direct tiles, a partial 32-channel block and a 16 block: added while transposing
    [InlineData(1, 2, 0, 9, 8, 12)]    // im2col + GEMM: added in the epilogue pass
    public void ResidualConvolutionEqualsConvolutionThenAddAndRelu(int kernel, int stride, int padding, int size, int inC, int outC)
    {
        var rng = new Rng(14);
        var x = Randn(rng, 3, inC, size, size);
        var w = Randn(rng, outC, inC, kernel, kernel);
        var bias = Randn(rng, outC);
        var plain = new Conv2dOp(inC, outC, kernel, stride, padding, true);
        var fused = new Conv2dOp(inC, outC, kernel, stride, padding, true, null, relu: true, residual: true);
        NodeState State(int inputs) => new() { NeedsInputGrad = Enumerable.Repeat(true, inputs).ToArray(), WillBackward = true, Training = true };
        var sp = State(1); var sf = State(2);
        var yp = plain.Forward([x], [w, bias], sp);
        var r = Randn(rng, yp.Shape);
        var yf = fused.Forward([x, r], [w, bias], sf);
        for (int i = 0; i < yp.Length; i++) Assert.Equal(Math.Max(yp.Data[i] + r.Data[i], 0f), yf.Data[i], 1e-4f);
        // Backward: the plain convolution's gradients with the gradient masked where the sum was negative, and
        // that masked gradient itself for the residual.
        var g = Randn(rng, yp.Shape);
        var gMasked = new Tensor(yp.Shape);
        for (int i = 0; i < g.Length; i++) gMasked.Data[i] = yf.Data[i] > 0 ? g.Data[i] : 0f;
        Tensor?[] dpf = [new Tensor(w.Shape), new Tensor(bias.Shape)], dpp = [new Tensor(w.Shape), new Tensor(bias.Shape)];
        var gf = fused.Backward(g.Clone(), [x, r], yf, [w, bias], dpf, sf);
        var dxp = plain.Backward(gMasked.Clone(), [x], yp, [w, bias], dpp, sp)[0]!;
        for (int i = 0; i < x.Length; i++) Assert.Equal(dxp.Data[i], gf[0]!.Data[i], 1e-3f);
        for (int i = 0; i < g.Length; i++) Assert.Equal(gMasked.Data[i], gf[1]!.Data[i]);
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < dpp[k]!.Length; i++) Assert.Equal(dpp[k]!.Data[i], dpf[k]!.Data[i], 2e-3f);
    }

    [Fact]
    public void ResidualInputOfAnotherShapeIsRejected()
    {
        var op = new Conv2dOp(2, 4, 3, 1, 1, true, null, relu: true, residual: true);
        var e = Assert.Throws<LopperInputException>(() => op.OutputShape([[1, 2, 8, 8], [1, 2, 8, 8]]));
        Assert.Contains("residual", e.Message);
    }
}
