using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using static Lopper.Tests.Graph.GradCheck;

namespace Lopper.Tests.Graph;

/// <summary>
/// Executor-level gradient checks around one op: input -> shift (trainable, stands in for the op's input)
/// -> op. The shift's gradient is the op's input gradient as the executor propagates it.
/// </summary>
public class GraphGradientTests
{
    private static readonly int[] Image = [2, 3, 4, 4];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Linear(bool bias)
    {
        var (model, input) = SingleOp([3, 5], 1, (b, s) => b.Linear("fc", s[0], 4, bias));
        var g = CheckModel(model, input, DotLoss(1));
        Assert.Equal(bias, g.ContainsKey("fc.bias"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNorm(bool training)
    {
        var (model, input) = SingleOp(Image, 1, (b, s) => b.BatchNorm("bn", s[0]));
        model.Find("bn.running_mean")!.Value.Span.Fill(0.3f);
        model.Find("bn.running_var")!.Value.Span.Fill(1.4f);
        var g = CheckModel(model, input, DotLoss(2), training);
        Assert.Equal(["bn.bias", "bn.weight", "src0.value"], g.Keys.Order());
        Assert.Null(model.Find("bn.running_mean")!.Grad);
    }

    [Fact]
    public void Relu()
    {
        var (model, input) = SingleOp(Image, 1, (b, s) => b.Relu("relu", s[0]));
        var v = model.Find("src0.value")!.Value;
        RandnAwayFromZero(new Rng(9), 0.1, Image).Span.CopyTo(v.Span);
        CheckModel(model, input, DotLoss(3));
    }

    [Theory]
    [InlineData(2, 2, 0)]
    [InlineData(3, 2, 1)]
    public void MaxPool(int kernel, int stride, int padding)
    {
        var (model, input) = SingleOp(Image, 1, (b, s) => b.MaxPool("pool", s[0], kernel, stride, padding));
        Distinct(new Rng(10), 0.05f, Image).Span.CopyTo(model.Find("src0.value")!.Value.Span);
        CheckModel(model, input, DotLoss(4));
    }

    [Fact]
    public void AvgPool()
    {
        var (model, input) = SingleOp(Image, 1, (b, s) => b.AvgPool("pool", s[0], 2, 2));
        CheckModel(model, input, DotLoss(5));
    }

    [Fact]
    public void GlobalAvgPool()
    {
        var (model, input) = SingleOp(Image, 1, (b, s) => b.GlobalAvgPool("gap", s[0]));
        CheckModel(model, input, DotLoss(6));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void AddDistinct(int count)
    {
        var (model, input) = SingleOp(Image, count, (b, s) => b.Sum("add", s));
        var g = CheckModel(model, input, DotLoss(7));
        for (int k = 1; k < count; k++) Assert.Equal(g["src0.value"], g[$"src{k}.value"]);
    }

    [Fact]
    public void AddNodeToItself()
    {
        var (model, input) = SingleOp(Image, 1, (b, s) => b.Sum("add", s[0], s[0]));
        CheckModel(model, input, DotLoss(8));
    }

    [Fact]
    public void AddWithOneBranchThroughRelu()
    {
        // x + relu(x): the relu edits its gradient in place, which must not leak into the other branch.
        var (model, input) = SingleOp(Image, 1, (b, s) => b.Sum("add", s[0], b.Relu("relu", s[0])));
        RandnAwayFromZero(new Rng(12), 0.1, Image).Span.CopyTo(model.Find("src0.value")!.Value.Span);
        CheckModel(model, input, DotLoss(9));
    }

    [Fact]
    public void Flatten()
    {
        var (model, input) = SingleOp(Image, 1, (b, s) => b.Flatten("flat", s[0]));
        CheckModel(model, input, DotLoss(10));
    }

    [Fact]
    public void FlattenThenLinear()
    {
        var (model, input) = SingleOp(Image, 1, (b, s) => b.Linear("fc", b.Flatten("flat", s[0]), 3));
        CheckModel(model, input, DotLoss(11));
    }

    [Fact]
    public void DropoutTraining()
    {
        var (model, input) = SingleOp(Image, 1, (b, s) => b.Dropout("drop", s[0], 0.4));
        CheckModel(model, input, DotLoss(12), training: true, seed: 77);
    }

    [Fact]
    public void DropoutEval()
    {
        var (model, input) = SingleOp(Image, 1, (b, s) => b.Dropout("drop", s[0], 0.4));
        var g = CheckModel(model, input, DotLoss(13), training: false);
        // Identity: the input gradient is R itself.
        Assert.Equal(Randn(new Rng(13), Image).Data, g["src0.value"]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ChannelMul(bool trainable)
    {
        var (model, input) = SingleOp(Image, 1, (b, s) => b.Add("cm", new ChannelMulOp(3, trainable), s[0]));
        var scale = model.Find("cm.scale")!;
        Assert.Equal(trainable, scale.Trainable);
        if (!trainable)
        {
            Assert.Null(scale.Grad);
            new float[] { 0.5f, 0f, -1.5f }.CopyTo(scale.Value.Span);
        }
        var g = CheckModel(model, input, DotLoss(14));
        Assert.Equal(trainable, g.ContainsKey("cm.scale"));
        if (!trainable) Assert.Equal([0.5f, 0f, -1.5f], scale.Value.Data);
    }

    [Fact]
    public void BranchWithoutGradientGetsZeroParameterGradient()
    {
        // A linear head whose output is not used: its parameters get zero gradients, not stale ones.
        var b = new GraphBuilder([4]);
        var s = b.Add("src0", new ShiftOp([2, 4]), b.Input);
        b.Linear("unused", s, 3);
        b.Linear("fc", s, 2);
        var model = new Model(b.Build("dead-branch"), 1);
        var rng = new Rng(15);
        foreach (var p in model.Parameters) Fill(p.Value, rng);
        var g = CheckModel(model, new Tensor(2, 4), DotLoss(15));
        Assert.All(g["unused.weight"], v => Assert.Equal(0f, v));
        Assert.All(g["unused.bias"], v => Assert.Equal(0f, v));
    }
}
