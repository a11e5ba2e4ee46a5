using Lopper.Graph.Ops;

namespace Lopper.Onnx.Export.Ops;

/// <summary>
/// The activations and softmax. Opset 13 has no HardSwish: it is written as x * HardSigmoid(x) with
/// PyTorch's 1/6 and 1/2, and SiLU as x * Sigmoid(x), the two patterns the importer reads back.
/// </summary>
internal static class ActivationExport
{
    public static void Sigmoid(ExportContext ctx) => ctx.SetOutput(ctx.Emit("Sigmoid", [ctx.In(0)]));

    public static void HardSigmoid(ExportContext ctx)
    {
        var op = (HardSigmoidOp)ctx.Node.Op;
        ctx.SetOutput(ctx.Emit("HardSigmoid", [ctx.In(0)], null, ExportContext.Float("alpha", (float)op.Alpha), ExportContext.Float("beta", (float)op.Beta)));
    }

    public static void HardSwish(ExportContext ctx)
    {
        string gate = ctx.Emit("HardSigmoid", [ctx.In(0)], $"{ctx.Node.Name}.hardsigmoid",
            ExportContext.Float("alpha", (float)HardSigmoidOp.DefaultAlpha), ExportContext.Float("beta", (float)HardSigmoidOp.DefaultBeta));
        ctx.SetOutput(ctx.Emit("Mul", [ctx.In(0), gate]));
    }

    public static void Silu(ExportContext ctx)
    {
        string gate = ctx.Emit("Sigmoid", [ctx.In(0)], $"{ctx.Node.Name}.sigmoid");
        ctx.SetOutput(ctx.Emit("Mul", [ctx.In(0), gate]));
    }

    // Opset 13's Clip takes its bounds as optional scalar inputs; an unbounded side is left out.
    public static void Clip(ExportContext ctx)
    {
        var op = (ClipOp)ctx.Node.Op;
        string lo = double.IsInfinity(op.Min) ? "" : ctx.Initializer($"{ctx.Node.Name}.min", [], [(float)op.Min]);
        string hi = double.IsInfinity(op.Max) ? "" : ctx.Initializer($"{ctx.Node.Name}.max", [], [(float)op.Max]);
        string[] inputs = hi.Length > 0 ? [ctx.In(0), lo, hi] : lo.Length > 0 ? [ctx.In(0), lo] : [ctx.In(0)];
        ctx.SetOutput(ctx.Emit("Clip", inputs));
    }

    public static void Softmax(ExportContext ctx) => ctx.SetOutput(ctx.Emit("Softmax", [ctx.In(0)], null, ExportContext.Int("axis", -1)));
}
