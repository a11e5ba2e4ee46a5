using Lopper.Graph.Ops;

namespace Lopper.Onnx.Export.Ops;

/// <summary>linear to Gemm with transB = 1 (the weight stays [out, in], as nn.Linear exports).</summary>
internal static class LinearExport
{
    public static void Export(ExportContext ctx)
    {
        var op = (LinearOp)ctx.Node.Op;
        var inputs = new List<string> { ctx.In(0), ctx.Initializer($"{ctx.Node.Name}.weight", [op.OutFeatures, op.InFeatures], ctx.Parameters[0].Data) };
        if (op.HasBias) inputs.Add(ctx.Initializer($"{ctx.Node.Name}.bias", [op.OutFeatures], ctx.Parameters[1].Data));
        ctx.SetOutput(ctx.Emit("Gemm", inputs.ToArray(), null, ExportContext.Float("alpha", 1f), ExportContext.Float("beta", 1f), ExportContext.Int("transB", 1)));
    }
}
