using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;
using static Lopper.Tests.Graph.GradCheck;

namespace Lopper.Tests.Graph;

/// <summary>Op-level gradient checks: each op's Forward/Backward called directly with a hand-made NodeState.</summary>
public class OpGradientTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Linear(bool bias)
    {
        var rng = new Rng(101);
        var op = new LinearOp(5, 4, bias);
        var x = Randn(rng, 3, 5);
        Tensor[] ps = bias ? [Randn(rng, 4, 5), Randn(rng, 4)] : [Randn(rng, 4, 5)];
        var g = CheckOp(op, [x], ps, bias ? [true, true] : [true]);

        // Forward against a hand computation.
        for (int i = 0; i < 3; i++)
            for (int o = 0; o < 4; o++)
            {
                double s = bias ? ps[1].Data[o] : 0;
                for (int f = 0; f < 5; f++) s += (double)x.Data[i * 5 + f] * ps[0].Data[o * 5 + f];
                Assert.Equal(s, g.Output[i * 4 + o], 1e-4);
            }
    }

    [Fact]
    public void ReluAwayFromZero()
    {
        var rng = new Rng(102);
        var x = RandnAwayFromZero(rng, 0.1, 2, 3, 4, 4);
        var g = CheckOp(new ReluOp(), [x], [], []);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(Math.Max(x.Data[i], 0f), g.Output[i]);
            Assert.Equal(x.Data[i] > 0 ? g.GradOutput[i] : 0f, g.InputGrads[0]![i]);
        }
    }

    [Theory]
    [InlineData(2, 2, 0, 4, 4)]
    [InlineData(2, 2, 0, 5, 7)]     // odd: the last row and column are dropped
    [InlineData(2, 2, 0, 4, 70)]    // wide rows: two 16-output vector steps and a scalar tail
    [InlineData(2, 2, 0, 6, 32)]    // one 16-output step and no tail
    [InlineData(2, 2, 0, 6, 28)]    // VGG's first pool: every row a 14-output tail
    [InlineData(2, 2, 0, 4, 10)]    // AVX2: one 5-output tail per row
    [InlineData(2, 2, 0, 4, 36)]    // AVX2: two 8-output steps and a 2-output tail
    [InlineData(3, 2, 1, 5, 5)]
    [InlineData(3, 2, 1, 6, 7)]
    [InlineData(3, 1, 1, 4, 4)]
    public void MaxPool(int kernel, int stride, int padding, int h, int w)
    {
        CheckMaxPool(kernel, stride, padding, h, w);
        // The 2x2 kernel's scalar fallback and its AVX2 forward (machines without AVX-512) must agree too.
        MaxPool2x2.ForceScalar = true;
        try { CheckMaxPool(kernel, stride, padding, h, w); }
        finally { MaxPool2x2.ForceScalar = false; }
        MaxPool2x2.ForceVector256 = true;
        try { CheckMaxPool(kernel, stride, padding, h, w); }
        finally { MaxPool2x2.ForceVector256 = false; }
    }

    private static void CheckMaxPool(int kernel, int stride, int padding, int h, int w)
    {
        var rng = new Rng(103);
        var x = Distinct(rng, 0.05f, 2, 3, h, w);
        var g = CheckOp(new MaxPool2dOp(kernel, stride, padding), [x], [], [], eps: 1e-2);

        // Every output is the maximum of its window; each input gradient is the sum of the R entries it won.
        int oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1;
        var expectedGrad = new double[x.Length];
        for (int p = 0; p < 6; p++)
            for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
            {
                float best = float.NegativeInfinity; int bi = -1;
                for (int ky = 0; ky < kernel; ky++)
                for (int kx = 0; kx < kernel; kx++)
                {
                    int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                    float v = x.Data[p * h * w + iy * w + ix];
                    if (v > best) { best = v; bi = p * h * w + iy * w + ix; }
                }
                int o = p * oh * ow + oy * ow + ox;
                Assert.Equal(best, g.Output[o]);
                expectedGrad[bi] += g.GradOutput[o];
            }
        for (int i = 0; i < x.Length; i++) Assert.Equal(expectedGrad[i], g.InputGrads[0]![i], 1e-5);
    }

    [Theory]
    [InlineData(2, 2, 0)]
    [InlineData(3, 2, 1)]
    public void MaxPoolTiesRouteTheGradientToTheFirstOfTheWindow(int kernel, int stride, int padding)
    {
        // A constant plane: every window is one tie, and each window's gradient lands on its first element.
        var x = new Tensor([1, 1, 4, 36]);
        x.Span.Fill(0.5f);
        var op = new MaxPool2dOp(kernel, stride, padding);
        var state = new NodeState { NeedsInputGrad = [true], WillBackward = true, Training = true };
        var output = op.Forward([x], [], state);
        var gradOut = new Tensor(output.Shape);
        for (int i = 0; i < gradOut.Length; i++) gradOut.Data[i] = i + 1;
        var dx = op.Backward(gradOut, [x], output, [], [], state)[0]!;
        int oh = output.Shape[2], ow = output.Shape[3];
        var expected = new float[x.Length];
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
            {
                int iy = Math.Max(0, oy * stride - padding), ix = Math.Max(0, ox * stride - padding);
                expected[iy * 36 + ix] += gradOut.Data[oy * ow + ox];
            }
        Assert.Equal(expected, dx.Data.AsSpan(0, x.Length).ToArray());
    }

    [Theory]
    [InlineData(2, 2, 4, 4)]
    [InlineData(2, 1, 4, 5)]
    [InlineData(3, 2, 7, 7)]
    public void AvgPool(int kernel, int stride, int h, int w)
    {
        var rng = new Rng(104);
        var x = Randn(rng, 2, 3, h, w);
        var g = CheckOp(new AvgPool2dOp(kernel, stride), [x], [], []);
        int oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1;
        for (int p = 0; p < 6; p++)
            for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
            {
                double s = 0;
                for (int ky = 0; ky < kernel; ky++)
                for (int kx = 0; kx < kernel; kx++)
                    s += x.Data[p * h * w + (oy * stride + ky) * w + ox * stride + kx];
                Assert.Equal(s / (kernel * kernel), g.Output[p * oh * ow + oy * ow + ox], 1e-5);
            }
    }

    [Fact]
    public void GlobalAvgPool()
    {
        var rng = new Rng(105);
        var x = Randn(rng, 3, 4, 3, 5);
        var g = CheckOp(new GlobalAvgPoolOp(), [x], [], []);
        for (int p = 0; p < 12; p++)
        {
            Assert.Equal(x.Data.AsSpan(p * 15, 15).ToArray().Select(v => (double)v).Average(), g.Output[p], 1e-5);
            for (int i = 0; i < 15; i++) Assert.Equal(g.GradOutput[p] / 15.0, g.InputGrads[0]![p * 15 + i], 1e-6);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void AddDistinctInputs(int count)
    {
        var rng = new Rng(106);
        var xs = Enumerable.Range(0, count).Select(_ => Randn(rng, 2, 3, 3, 3)).ToArray();
        var g = CheckOp(new AddOp(), xs, [], []);
        for (int i = 0; i < g.Output.Length; i++)
        {
            Assert.Equal(xs.Sum(x => (double)x.Data[i]), g.Output[i], 1e-5);
            for (int k = 0; k < count; k++) Assert.Equal(g.GradOutput[i], g.InputGrads[k]![i]);
        }
    }

    [Fact]
    public void AddWithFusedRelu()
    {
        // Sums kept away from the kink: a large-magnitude first input plus a small second one.
        var rng = new Rng(109);
        var a = RandnAwayFromZero(rng, 0.5, 2, 3, 3, 3);
        var b = Randn(rng, 2, 3, 3, 3);
        for (int i = 0; i < b.Length; i++) b.Data[i] *= 0.1f;
        var g = CheckOp(new AddOp(relu: true), [a, b], [], []);
        for (int i = 0; i < g.Output.Length; i++)
        {
            double sum = (double)a.Data[i] + b.Data[i];
            Assert.Equal(Math.Max(sum, 0), g.Output[i], 1e-5);
            Assert.Equal(sum > 0 ? g.GradOutput[i] : 0f, g.InputGrads[0]![i]);
            Assert.Equal(g.InputGrads[0]![i], g.InputGrads[1]![i]);
        }
        Assert.True(AddOp.FromJson(new AddOp(relu: true).Attributes()).FusedRelu);
        Assert.False(AddOp.FromJson(new AddOp().Attributes()).FusedRelu);
    }

    [Fact]
    public void AddSameTensorTwice()
    {
        var x = Randn(new Rng(107), 2, 2, 3, 3);
        var g = CheckOp(new AddOp(), [x, x], [], []);
        for (int i = 0; i < x.Length; i++) Assert.Equal(2 * x.Data[i], g.Output[i]);
    }

    [Fact]
    public void AddSkipsInputsThatNeedNoGradient()
    {
        var rng = new Rng(108);
        Tensor[] xs = [Randn(rng, 2, 3), Randn(rng, 2, 3), Randn(rng, 2, 3)];
        var g = CheckOp(new AddOp(), xs, [], [], needsInputGrad: [false, true, true]);
        Assert.Null(g.InputGrads[0]);
    }

    [Fact]
    public void Flatten()
    {
        var op = new FlattenOp();
        var x = Randn(new Rng(109), 2, 3, 2, 2);
        var g = CheckOp(op, [x], [], []);
        Assert.Equal(x.Data, g.Output);
        Assert.Equal(g.GradOutput, g.InputGrads[0]);
        var y = op.Forward([x], [], new NodeState { NeedsInputGrad = [true] });
        Assert.Equal([2, 12], y.Shape);
        Assert.Same(x.Data, y.Data);
    }

    [Fact]
    public void DropoutTrainingGradientIsMaskTimesScale()
    {
        const double p = 0.3;
        const ulong seed = 42;
        var x = Randn(new Rng(110), 4, 3, 5, 5);
        var g = CheckOp(new DropoutOp(p), [x], [], [], training: true, seed: seed);

        // Replay the random stream: keep with probability 1-p, survivors scaled by 1/(1-p).
        var rng = new Rng(seed);
        float keep = (float)(1 - p), scale = 1f / keep;
        int dropped = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float m = rng.NextFloat() < keep ? scale : 0f;
            if (m == 0) dropped++;
            Assert.Equal(x.Data[i] * m, g.Output[i]);
            Assert.Equal(g.GradOutput[i] * m, g.InputGrads[0]![i]);
        }
        Assert.InRange(dropped, x.Length / 10, x.Length / 2);
    }

    [Fact]
    public void DropoutEvalIsIdentity()
    {
        var x = Randn(new Rng(111), 2, 3, 4, 4);
        var g = CheckOp(new DropoutOp(0.5), [x], [], [], training: false);
        Assert.Equal(x.Data, g.Output);
        Assert.Equal(g.GradOutput, g.InputGrads[0]);

        // Eval needs no random stream at all.
        var y = new DropoutOp(0.5).Forward([x], [], new NodeState { NeedsInputGrad = [true], Training = false });
        Assert.Equal(x.Data, y.Data);
    }

    [Fact]
    public void DropoutWithZeroProbabilityIsIdentityInTraining()
    {
        var x = Randn(new Rng(112), 2, 3, 4, 4);
        var g = CheckOp(new DropoutOp(0), [x], [], [], training: true);
        Assert.Equal(x.Data, g.Output);
    }

    [Fact]
    public void DropoutRejectsBadProbability()
    {
        Assert.Throws<LopperInputException>(() => new DropoutOp(1.0));
        Assert.Throws<LopperInputException>(() => new DropoutOp(-0.1));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(2)]
    public void ChannelMulTrainable(int rank)
    {
        var rng = new Rng(113);
        var x = rank == 4 ? Randn(rng, 2, 3, 3, 4) : Randn(rng, 2, 3);
        var scale = Randn(rng, 3);
        var g = CheckOp(new ChannelMulOp(3), [x], [scale], [true]);
        int plane = x.Length / 6;
        for (int i = 0; i < x.Length; i++) Assert.Equal(x.Data[i] * scale.Data[i / plane % 3], g.Output[i]);
    }

    [Fact]
    public void ChannelMulFixedScaleGetsNoGradient()
    {
        var rng = new Rng(114);
        var x = Randn(rng, 2, 3, 3, 3);
        var scale = new Tensor([3], [1f, 0f, -2f]);
        var g = CheckOp(new ChannelMulOp(3, trainable: false), [x], [scale], [false]);
        Assert.Null(g.ParamGrads[0]);
        Assert.Equal([1f, 0f, -2f], scale.Data);
        Assert.False(new ChannelMulOp(3, trainable: false).Parameters([[1, 3, 3, 3]])[0].Trainable);
        Assert.True(new ChannelMulOp(3).Parameters([[1, 3, 3, 3]])[0].Trainable);
    }

    [Fact]
    public void ParameterGradientsWithoutInputGradient()
    {
        var rng = new Rng(115);
        var x = Randn(rng, 2, 3);
        var g = CheckOp(new LinearOp(3, 2), [x], [Randn(rng, 2, 3), Randn(rng, 2)], [true, true], needsInputGrad: [false]);
        Assert.Null(g.InputGrads[0]);

        var x4 = Randn(rng, 2, 2, 3, 3);
        g = CheckOp(new ChannelMulOp(2), [x4], [Randn(rng, 2)], [true], needsInputGrad: [false]);
        Assert.Null(g.InputGrads[0]);
        Assert.NotNull(g.ParamGrads[0]);
    }
}
