using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;
using static Lopper.Tests.Graph.GradCheck;

namespace Lopper.Tests.Graph;

/// <summary>sigmoid, hardsigmoid, hardswish, silu, clip, softmax, adaptiveavgpool: gradients, known values, model.json.</summary>
public class ActivationOpTests
{
    // N(0, 2) values at least `gap` away from every kink in `kinks`.
    private static Tensor AwayFrom(Rng rng, float[] kinks, double gap, params int[] shape)
    {
        var t = new Tensor(shape);
        for (int i = 0; i < t.Length; i++)
        {
            double v;
            do v = 2 * rng.NextNormal(); while (kinks.Any(k => Math.Abs(v - k) < gap));
            t.Data[i] = (float)v;
        }
        return t;
    }

    private static float[] Run(Op op, params float[] values)
    {
        var x = new Tensor([1, values.Length], (float[])values.Clone());
        var st = new NodeState { NeedsInputGrad = [true], WillBackward = false };
        return op.Forward([x], [], st).Data.ToArray();
    }

    // 37 x 4 x 4 x 4 = 2368 values: odd, so both the vector loops and their scalar tails run.
    private static readonly int[] Shape = [37, 4, 4, 4];

    [Fact]
    public void SigmoidGradientAndValues()
    {
        var x = Randn(new Rng(201), Shape);
        var g = CheckOp(new SigmoidOp(), [x], [], []);
        for (int i = 0; i < x.Length; i++)
        {
            double s = 1 / (1 + Math.Exp(-x.Data[i]));
            Assert.Equal(s, g.Output[i], 1e-6);
            Assert.Equal(s * (1 - s) * g.GradOutput[i], g.InputGrads[0]![i], 1e-5);
        }
        Assert.Equal(0.5f, Run(new SigmoidOp(), 0f)[0]);
        Assert.Equal(0.75, Run(new SigmoidOp(), MathF.Log(3))[0], 1e-6);
        Assert.Equal(0.25, Run(new SigmoidOp(), -MathF.Log(3))[0], 1e-6);
    }

    [Theory]
    [InlineData(1.0 / 6, 0.5)]   // PyTorch
    [InlineData(0.2, 0.5)]       // ONNX's defaults
    public void HardSigmoidGradient(double alpha, double beta)
    {
        float lo = (float)(-beta / alpha), hi = (float)((1 - beta) / alpha);
        var x = AwayFrom(new Rng(202), [lo, hi], 0.05, 2, 3, 5, 7);
        var g = CheckOp(new HardSigmoidOp(alpha, beta), [x], [], []);
        for (int i = 0; i < x.Length; i++)
        {
            double lin = alpha * x.Data[i] + beta;
            Assert.Equal(Math.Clamp(lin, 0, 1), g.Output[i], 1e-6);
            Assert.Equal(lin is > 0 and < 1 ? alpha * g.GradOutput[i] : 0, g.InputGrads[0]![i], 1e-6);
        }
    }

    [Fact]
    public void HardSigmoidKnownValues()
    {
        // PyTorch: relu6(x + 3) / 6.
        Assert.Equal([0f, 0f, 0.25f, 0.5f, 0.75f, 1f, 1f], Run(new HardSigmoidOp(), -4f, -3f, -1.5f, 0f, 1.5f, 3f, 4f));
        // ONNX default alpha 0.2: 0.2 * 1 + 0.5.
        Assert.Equal(0.7, Run(new HardSigmoidOp(0.2, 0.5), 1f)[0], 1e-6);
    }

    [Fact]
    public void HardSwishGradientAndValues()
    {
        var x = AwayFrom(new Rng(203), [-3f, 3f], 0.05, Shape);
        var g = CheckOp(new HardSwishOp(), [x], [], []);
        for (int i = 0; i < x.Length; i++)
        {
            double v = x.Data[i];
            double slope = v < -3 ? 0 : v > 3 ? 1 : (2 * v + 3) / 6;
            Assert.Equal(v * Math.Clamp(v + 3, 0, 6) / 6, g.Output[i], 1e-5);
            Assert.Equal(slope * g.GradOutput[i], g.InputGrads[0]![i], 1e-5);
        }
        var y = Run(new HardSwishOp(), -4f, -3f, -1f, 0f, 1f, 3f, 4f);
        Assert.Equal([0f, 0f, -1f / 3, 0f, 2f / 3, 3f, 4f], y, (a, b) => Math.Abs(a - b) < 1e-6);
    }

    [Fact]
    public void SiluGradientAndValues()
    {
        // Wide range: the sigmoid saturates at both ends and the derivative dips below zero near -2.4.
        var x = Randn(new Rng(204), Shape);
        for (int i = 0; i < x.Length; i++) x.Data[i] *= 3;
        var g = CheckOp(new SiluOp(), [x], [], []);
        for (int i = 0; i < x.Length; i++)
        {
            double v = x.Data[i], s = 1 / (1 + Math.Exp(-v));
            Assert.Equal(v * s, g.Output[i], 1e-5);
            Assert.Equal(s * (1 + v * (1 - s)) * g.GradOutput[i], g.InputGrads[0]![i], 1e-4);
        }
        Assert.Equal([0f], Run(new SiluOp(), 0f));
        Assert.Equal(MathF.Log(3) * 0.75f, Run(new SiluOp(), MathF.Log(3))[0], 1e-6f);
    }

    [Theory]
    [InlineData(0.0, 6.0)]
    [InlineData(-1.0, 1.5)]
    [InlineData(-0.5, double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity, 0.25)]
    public void ClipGradient(double min, double max)
    {
        var kinks = new[] { (float)min, (float)max }.Where(float.IsFinite).ToArray();
        var x = AwayFrom(new Rng(205), kinks, 0.05, Shape);   // N(0, 2): some values above 6 too
        var g = CheckOp(new ClipOp(min, max), [x], [], []);
        for (int i = 0; i < x.Length; i++)
        {
            double v = x.Data[i];
            Assert.Equal(Math.Clamp(v, min, max), g.Output[i], 1e-6);
            Assert.Equal(v > min && v < max ? g.GradOutput[i] : 0f, g.InputGrads[0]![i]);
        }
    }

    [Fact]
    public void Relu6KnownValues()
    {
        Assert.Equal([0f, 0f, 2.5f, 6f, 6f], Run(ClipOp.Relu6(), -1f, 0f, 2.5f, 6f, 7f));
        Assert.Throws<LopperInputException>(() => new ClipOp(2, 1));
    }

    [Theory]
    [InlineData(new[] { 3, 5 })]
    [InlineData(new[] { 2, 3, 2, 4 })]
    public void SoftmaxGradient(int[] shape)
    {
        var g = CheckOp(new SoftmaxOp(), [Randn(new Rng(206), shape)], [], []);
        int k = shape[^1];
        for (int r = 0; r < g.Output.Length / k; r++)
            Assert.Equal(1.0, g.Output.AsSpan(r * k, k).ToArray().Sum(v => (double)v), 1e-5);
    }

    [Fact]
    public void SoftmaxKnownValuesAndNoOverflow()
    {
        double e = Math.E, z = 1 + e + e * e;
        Assert.Equal([1 / z, e / z, e * e / z], Run(new SoftmaxOp(), 0f, 1f, 2f).Select(v => (double)v), new Tolerance(1e-6));
        // exp(1000) overflows float; shifted by the row maximum it does not.
        Assert.Equal([0.5f, 0.5f], Run(new SoftmaxOp(), 1000f, 1000f));
        // A large batch of rows (split over threads) row by row like a small one.
        var x = Randn(new Rng(207), 4096, 10);
        var st = new NodeState { NeedsInputGrad = [true] };
        var y = new SoftmaxOp().Forward([x], [], st);
        for (int r = 0; r < 4096; r += 511)
        {
            var row = x.Data.AsSpan(r * 10, 10).ToArray();
            Assert.Equal(Run(new SoftmaxOp(), row), y.Data.AsSpan(r * 10, 10).ToArray());
        }
    }

    private sealed class Tolerance(double tol) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tol;
        public int GetHashCode(double v) => 0;
    }

    [Theory]
    [InlineData(5, 7, 3, 4)]
    [InlineData(6, 6, 3, 3)]   // even bins
    [InlineData(2, 3, 3, 5)]   // more bins than rows: bins repeat inputs
    [InlineData(4, 4, 1, 1)]   // global average
    public void AdaptiveAvgPoolGradient(int h, int w, int oh, int ow)
    {
        var x = Randn(new Rng(208), 2, 3, h, w);
        var g = CheckOp(new AdaptiveAvgPoolOp(oh, ow), [x], [], []);
        for (int p = 0; p < 6; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    // PyTorch's bins, written out independently of the op's helpers.
                    int y0 = (int)Math.Floor((double)i * h / oh), y1 = (int)Math.Ceiling((double)(i + 1) * h / oh);
                    int x0 = (int)Math.Floor((double)j * w / ow), x1 = (int)Math.Ceiling((double)(j + 1) * w / ow);
                    double s = 0;
                    for (int r = y0; r < y1; r++)
                        for (int c = x0; c < x1; c++) s += x.Data[(p * h + r) * w + c];
                    Assert.Equal(s / ((y1 - y0) * (x1 - x0)), g.Output[(p * oh + i) * ow + j], 1e-5);
                }
    }

    [Fact]
    public void AdaptiveAvgPoolFiveToThreeBins()
    {
        // H = 5 into 3 bins: rows {0,1}, {1,2,3}, {3,4}. x[r, c] = 10 r + c, so out[i, j] = 10 mean_i + mean_j.
        var x = new Tensor(1, 1, 5, 5);
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 5; c++) x.Data[r * 5 + c] = 10 * r + c;
        var st = new NodeState { NeedsInputGrad = [true], WillBackward = true };
        var op = new AdaptiveAvgPoolOp(3, 3);
        var y = op.Forward([x], [], st);
        double[] mean = [0.5, 2, 3.5];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) Assert.Equal(10 * mean[i] + mean[j], y.Data[i * 3 + j], 1e-5);
        // Backward reads only the saved shape: row 1 sits in two bins of sizes 2 and 3.
        var dy = new Tensor(1, 1, 3, 3);
        dy.Span.Fill(1f);
        var dx = op.Backward(dy, [null!], null!, [], [], st)[0]!;
        Assert.Equal(1.0 / 4, dx.Data[0], 1e-6);                                   // corner: one 2x2 bin
        Assert.Equal(1.0 / 4 + 1.0 / 6, dx.Data[1 * 5 + 0], 1e-6);                // row 1: bins 0 (2 rows) and 1 (3 rows)
        Assert.Equal(1.0 / 9, dx.Data[2 * 5 + 2], 1e-6);                          // centre: the 3x3 bin only
        Assert.Equal(1.0 / 9 + 2.0 / 6 + 1.0 / 4, dx.Data[3 * 5 + 3], 1e-6);      // row and column 3: four bins
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ScalarLoopsMatchTheVectorLoops(bool scalar)
    {
        // The kernels' SIMD and tail paths on the same data: 37 values put 5 in the tail of a 16-wide loop.
        var x = Randn(new Rng(209), 37);
        for (int i = 0; i < 37; i++) x.Data[i] *= 4;
        var xs = scalar ? x.Data.AsSpan(0, 1).ToArray() : x.Data;   // a one-element span runs the tail only
        var y = new float[xs.Length];
        ActivationKernels.HardSwish(xs, y);
        for (int i = 0; i < xs.Length; i++) Assert.Equal(xs[i] * Math.Clamp(xs[i] + 3, 0, 6) / 6, y[i], 1e-5);
        ActivationKernels.AffineClamp(xs, 0.2f, 0.5f, 0f, 1f, y);
        for (int i = 0; i < xs.Length; i++) Assert.Equal(Math.Clamp(0.2 * xs[i] + 0.5, 0, 1), y[i], 1e-6);
    }

    public static TheoryData<Op> AllOps() => new()
    {
        new SigmoidOp(), new HardSigmoidOp(), new HardSigmoidOp(0.2, 0.4), new HardSwishOp(), new SiluOp(),
        ClipOp.Relu6(), new ClipOp(-1.5), new ClipOp(max: 2), new SoftmaxOp(), new AdaptiveAvgPoolOp(2, 3),
    };

    [Theory]
    [MemberData(nameof(AllOps))]
    public void AttributesRoundTripAndUnknownOnesAreRejected(Op op)
    {
        var text = op.Attributes().ToJsonString();
        var back = OpRegistry.Create(op.Type, (JsonObject)JsonNode.Parse(text)!);
        Assert.Equal(op.GetType(), back.GetType());
        Assert.Equal(text, back.Attributes().ToJsonString());

        var typo = (JsonObject)JsonNode.Parse(text)!;
        typo["alpah"] = 0.3;
        var e = Assert.Throws<LopperInputException>(() => OpRegistry.Create(op.Type, typo));
        Assert.Contains(op.Type, e.Message);
        Assert.Contains("'alpah'", e.Message);
    }

    [Fact]
    public void ModelJsonWithTheNewOpsRoundTripsAndTrainsThroughTheExecutor()
    {
        var b = new GraphBuilder([2, 6, 5]);
        var c = b.Conv("conv", b.Input, 3, 3, 1, 1, bias: true);
        var h = b.Add("hswish", new HardSwishOp(), c);
        var s = b.Add("silu", new SiluOp(), h);
        var r6 = b.Add("relu6", ClipOp.Relu6(), s);
        var hs = b.Add("hsig", new HardSigmoidOp(0.2, 0.5), r6);
        var sg = b.Add("sig", new SigmoidOp(), hs);
        var p = b.Add("pool", new AdaptiveAvgPoolOp(3, 2), sg);
        var f = b.Flatten("flat", p);
        var l = b.Linear("fc", f, 4);
        b.Add("prob", new SoftmaxOp(), l);
        var graph = b.Build("new-ops");
        string text = ModelJson.Serialize(graph);
        var parsed = ModelJson.Parse(text);
        Assert.Equal(text, ModelJson.Serialize(parsed));

        // The executor frees what each op declares backward does not read; a wrong declaration reads null here.
        var model = new Model(parsed, 5);
        var rng = new Rng(210);
        var x = Randn(rng, 3, 2, 6, 5);
        CheckModel(model, x, DotLoss(211));
    }

    [Fact]
    public void ModelJsonTypoNamesNodeOpAndAttribute()
    {
        var text = new JsonObject
        {
            ["format"] = ModelJson.Format,
            ["name"] = "m",
            ["nodes"] = new JsonArray(
                new JsonObject { ["name"] = "input", ["op"] = "input", ["attrs"] = new JsonObject { ["shape"] = new JsonArray(3, 8, 8) } },
                new JsonObject { ["name"] = "gate_act", ["op"] = "hardsigmoid", ["inputs"] = new JsonArray("input"), ["attrs"] = new JsonObject { ["alpah"] = 0.2 } }),
        }.ToJsonString();
        var e = Assert.Throws<LopperInputException>(() => ModelJson.Parse(text));
        Assert.Contains("gate_act", e.Message);
        Assert.Contains("hardsigmoid", e.Message);
        Assert.Contains("'alpah'", e.Message);
    }

    [Fact]
    public void BadAttributeValuesAreRejected()
    {
        Assert.Throws<LopperInputException>(() => AdaptiveAvgPoolOp.FromJson(new JsonObject()));
        Assert.Throws<LopperInputException>(() => AdaptiveAvgPoolOp.FromJson(new JsonObject { ["output_size"] = new JsonArray(0, 2) }));
        Assert.Throws<LopperInputException>(() => HardSigmoidOp.FromJson(new JsonObject { ["alpha"] = "x" }));
        Assert.Throws<LopperInputException>(() => ClipOp.FromJson(new JsonObject { ["min"] = 3.0, ["max"] = 1.0 }));
        Assert.Equal(7, AdaptiveAvgPoolOp.FromJson(new JsonObject { ["output_size"] = new JsonArray(7) }).OutWidth);
    }
}
