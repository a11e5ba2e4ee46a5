using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using static Lopper.Tests.Graph.GradCheck;

namespace Lopper.Tests.Graph;

/// <summary>The Bernoulli gate op: input gradients by finite differences, the theta estimate against the exact two-point difference.</summary>
public class GateOpTests
{
    private static Tensor[] Params(Rng rng, int gates, int batch, float[] theta)
    {
        var mask = new Tensor(batch, gates);
        for (int i = 0; i < mask.Length; i++) mask.Data[i] = rng.NextFloat() < 0.6f ? 1f : 0f;
        return [new Tensor([gates], theta), mask, new Tensor(gates), new Tensor(gates)];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void InputGradientMatchesFiniteDifferences(bool block)
    {
        var rng = new Rng(201);
        var op = new GateOp(block ? 1 : 3, 3, 4, block ? "block:b" : "unit:u");
        var x = Randn(rng, 2, 3, 2, 2);
        var ps = Params(rng, op.Gates, 4, block ? [0.5f] : [0.2f, 0.7f, 1f]);
        var g = CheckOp(op, [x], ps, [false, false, false, false]);
        for (int i = 0; i < 2; i++)
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < 4; p++)
                {
                    int e = (i * 3 + c) * 4 + p;
                    Assert.Equal(x.Data[e] * ps[1].Data[i * op.Gates + (block ? 0 : c)], g.Output[e]);
                }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ThetaGradientIsTheExactSwitchDifferenceForAnAffineLoss(bool block)
    {
        // loss = sum(R * y) is affine in each gate, so the gate-derivative estimate must equal
        // loss(gate forced on for every example) - loss(gate forced off).
        var rng = new Rng(202);
        int gates = block ? 1 : 3;
        var op = new GateOp(gates, 3, 5, block ? "block:b" : "unit:u");
        var x = Randn(rng, 5, 3, 2, 2);
        var r = Randn(rng, 5, 3, 2, 2);
        var ps = Params(rng, gates, 5, Enumerable.Repeat(0.5f, gates).ToArray());
        double Loss()
        {
            var st = new NodeState { Training = true, WillBackward = false, NeedsInputGrad = [true] };
            var y = op.Forward([x], ps, st);
            double l = Dot(y, r);
            y.Release();
            return l;
        }
        var state = new NodeState { Training = true, WillBackward = true, NeedsInputGrad = [false] };
        var yy = op.Forward([x], ps, state);
        var gradOut = Tensor.Pooled(yy.Shape);
        r.Span.CopyTo(gradOut.Span);
        var dTheta = new Tensor(gates);
        dTheta.Span.Fill(99f);
        op.Backward(gradOut, [x], yy, ps, [dTheta, null, null, null], state);
        for (int j = 0; j < gates; j++)
        {
            var saved = ps[1].Data.ToArray();
            for (int i = 0; i < 5; i++) ps[1].Data[i * gates + j] = 1f;
            double on = Loss();
            for (int i = 0; i < 5; i++) ps[1].Data[i * gates + j] = 0f;
            double off = Loss();
            saved.CopyTo(ps[1].Data, 0);
            Assert.Equal(on - off, dTheta.Data[j], 1e-4);
        }
    }

    [Fact]
    public void InferenceUsesTheMeanFromOneHalfAndZeroBelow()
    {
        var op = new GateOp(4, 4, 2, "unit:u");
        var x = new Tensor([1, 4, 1, 1], [1f, 2f, 3f, 4f]);
        Tensor[] ps = [new Tensor([4], [0.49f, 0.5f, 0f, 1f]), new Tensor(2, 4), new Tensor(4), new Tensor(4)];
        var y = op.Forward([x], ps, new NodeState { Training = false, NeedsInputGrad = [true] });
        Assert.Equal([0f, 1f, 0f, 4f], y.Data.Take(4));
    }

    [Fact]
    public void RoundTripsThroughModelJson()
    {
        var b = new GraphBuilder([2, 3, 3]);
        var x = b.Conv("c", b.Input, 4, 1);
        b.Add("c.gate", new GateOp(4, 4, 8, "unit:c"), x);
        var g = ModelJson.Parse(ModelJson.Serialize(b.Build("t")));
        var op = Assert.IsType<GateOp>(g["c.gate"].Op);
        Assert.Equal(("unit:c", 4, 8), (op.Key, op.Gates, op.Batch));
        Assert.Throws<LopperInputException>(() => new GateOp(2, 4, 8, "unit:c"));
    }
}
