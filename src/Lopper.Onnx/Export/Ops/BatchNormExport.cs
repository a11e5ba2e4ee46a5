using Lopper.Graph.Ops;

namespace Lopper.Onnx.Export.Ops;

/// <summary>batchnorm2d to BatchNormalization (inference form, running statistics).</summary>
internal static class BatchNormExport
{
    public static void Export(ExportContext ctx)
    {
        var op = (BatchNorm2dOp)ctx.Node.Op;
        long[] dims = [op.Channels];
        string[] names = ["weight", "bias", "running_mean", "running_var"];
        var inputs = new string[5];
        inputs[0] = ctx.In(0);
        for (int i = 0; i < 4; i++) inputs[i + 1] = ctx.Initializer($"{ctx.Node.Name}.{names[i]}", dims, ctx.Parameters[i].Data);
        // ONNX's momentum weighs the running statistic, PyTorch's the new batch.
        ctx.SetOutput(ctx.Emit("BatchNormalization", inputs, null, ExportContext.Float("epsilon", (float)op.Eps), ExportContext.Float("momentum", (float)(1 - op.Momentum))));
    }
}
