using Lopper.Graph.Ops;

namespace Lopper.Onnx.Export.Ops;

/// <summary>
/// layernorm2d and gelu for opset 13, which has neither LayerNormalization nor Gelu: written as the decompositions
/// PyTorch itself exports (the importer reads both back). The layer norm stays channels-first (ReduceMean over axis
/// 1, weight and bias shaped [C, 1, 1]), so no Transpose is needed around it.
/// </summary>
internal static class NormExport
{
    public static void LayerNorm(ExportContext ctx)
    {
        var op = (LayerNorm2dOp)ctx.Node.Op;
        string n = ctx.Node.Name, x = ctx.In(0);
        string mean = ctx.Emit("ReduceMean", [x], $"{n}.mean", ExportContext.Ints("axes", 1), ExportContext.Int("keepdims", 1));
        string d = ctx.Emit("Sub", [x, mean], $"{n}.centred");
        string sq = ctx.Emit("Pow", [d, ctx.Initializer($"{n}.two", [], [2f])], $"{n}.square");
        string variance = ctx.Emit("ReduceMean", [sq], $"{n}.variance", ExportContext.Ints("axes", 1), ExportContext.Int("keepdims", 1));
        string ve = ctx.Emit("Add", [variance, ctx.Initializer($"{n}.eps", [], [(float)op.Eps])], $"{n}.variance_eps");
        string std = ctx.Emit("Sqrt", [ve], $"{n}.std");
        string normed = ctx.Emit("Div", [d, std], $"{n}.normalized");
        long[] dims = [op.Channels, 1, 1];
        string scaled = ctx.Emit("Mul", [normed, ctx.Initializer($"{n}.weight", dims, ctx.Parameters[0].Data)], $"{n}.scaled");
        ctx.SetOutput(ctx.Emit("Add", [scaled, ctx.Initializer($"{n}.bias", dims, ctx.Parameters[1].Data)]));
    }

    public static void Gelu(ExportContext ctx)
    {
        string n = ctx.Node.Name, x = ctx.In(0);
        string scaled = ctx.Emit("Div", [x, ctx.Initializer($"{n}.sqrt2", [], [MathF.Sqrt(2f)])], $"{n}.scaled");
        string erf = ctx.Emit("Erf", [scaled], $"{n}.erf");
        string plus = ctx.Emit("Add", [erf, ctx.Initializer($"{n}.one", [], [1f])], $"{n}.erf_plus_one");
        string product = ctx.Emit("Mul", [x, plus], $"{n}.product");
        ctx.SetOutput(ctx.Emit("Mul", [product, ctx.Initializer($"{n}.half", [], [0.5f])]));
    }
}
