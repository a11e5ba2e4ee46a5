using Lopper.Graph.Ops;
using Lopper.Tensors;

namespace Lopper.Onnx.Import.Ops;

/// <summary>ONNX Sigmoid, HardSigmoid, HardSwish, Clip (bounds from inputs, opset 11+, or attributes) and Softmax over the classes.</summary>
internal static class ActivationImport
{
    public static void Sigmoid(ImportContext ctx)
    {
        ctx.Attributes();
        ctx.Add(new SigmoidOp(), [ctx.GraphInput(0)]);
    }

    // ONNX's default alpha is 0.2 (PyTorch's is 1/6, which torch.onnx writes out explicitly).
    public static void HardSigmoid(ImportContext ctx)
    {
        var a = ctx.Attributes("alpha", "beta");
        ctx.Add(new HardSigmoidOp(Snap(a.Float("alpha", 0.2f)), Snap(a.Float("beta", 0.5f))), [ctx.GraphInput(0)]);
    }

    // A float attribute that is PyTorch's 1/6 rounded to float32 is read back as 1/6, so export then import is exact.
    private static double Snap(float v) => v == (float)HardSigmoidOp.DefaultAlpha ? HardSigmoidOp.DefaultAlpha : v;

    public static void HardSwish(ImportContext ctx)
    {
        ctx.Attributes();
        ctx.Add(new HardSwishOp(), [ctx.GraphInput(0)]);
    }

    public static void Clip(ImportContext ctx)
    {
        var a = ctx.Attributes("min", "max");
        double lo = Bound(a.Float("min", float.NegativeInfinity)), hi = Bound(a.Float("max", float.PositiveInfinity));
        if (ctx.HasInput(1)) lo = Bound(Scalar(ctx, 1, "min"));
        if (ctx.HasInput(2)) hi = Bound(Scalar(ctx, 2, "max"));
        if (lo > hi) throw ctx.Fail($"min {lo} is above max {hi}");
        ctx.Add(new ClipOp(lo, hi), [ctx.GraphInput(0)]);
    }

    // Older exporters write float's extremes for "no bound".
    private static double Bound(float v) => v <= -float.MaxValue ? double.NegativeInfinity : v >= float.MaxValue ? double.PositiveInfinity : v;

    private static float Scalar(ImportContext ctx, int i, string role)
    {
        var t = ctx.FloatInput(i, role);
        if (t.Length != 1) throw ctx.Fail($"{role} must be a scalar, got {Tensor.Format(t.Shape)}");
        return t.Data[0];
    }

    public static void Softmax(ImportContext ctx)
    {
        var a = ctx.Attributes("axis");
        var x = ctx.GraphInput(0);
        long axis = a.Int("axis", ctx.Opset >= 13 ? -1 : 1);
        if (axis < 0) axis += x.Shape.Length;
        if (x.Shape.Length != 2 || axis != 1)
            throw ctx.Fail($"Softmax over axis {a.Int("axis", -1)} of a {Tensor.Format(x.Shape)} value is not supported; only over the classes of [N, classes] outputs");
        ctx.Add(new SoftmaxOp(), [x]);
    }

    public static void LogSoftmax(ImportContext ctx)
        => throw ctx.Fail("LogSoftmax is not supported (Lopper has no log-softmax layer); export the logits without it, or with Softmax");
}
