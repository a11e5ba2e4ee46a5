using Lopper.Graph.Ops;

namespace Lopper.Onnx.Export.Ops;

/// <summary>
/// conv2d to Conv (groups and dilations as they are). A kernel-column convolution (weight [out, kept columns]) is written as the dense kernel
/// with the removed columns zero, so any runtime loads it; fused residual and ReLU become Add and Relu (Clip for a
/// bounded ReLU, such as a folded ReLU6).
/// </summary>
internal static class ConvExport
{
    public static void Export(ExportContext ctx)
    {
        var op = (Conv2dOp)ctx.Node.Op;
        int kk = op.KernelH * op.KernelW, k = op.InChannels / op.Groups * kk;
        var w = ctx.Parameters[0];
        float[] dense;
        if (op.Columns is null) dense = w.Data;
        else
        {
            dense = new float[(long)op.OutChannels * k];
            var cols = op.Columns;
            for (int o = 0; o < op.OutChannels; o++)
                for (int j = 0; j < cols.Length; j++) dense[(long)o * k + cols[j]] = w.Data[(long)o * cols.Length + j];
        }
        var inputs = new List<string> { ctx.In(0), ctx.Initializer($"{ctx.Node.Name}.weight", [op.OutChannels, op.InChannels / op.Groups, op.KernelH, op.KernelW], dense) };
        if (op.HasBias) inputs.Add(ctx.Initializer($"{ctx.Node.Name}.bias", [op.OutChannels], ctx.Parameters[1].Data));
        string y = ctx.Emit("Conv", inputs.ToArray(), null,
            ExportContext.Ints("kernel_shape", op.KernelH, op.KernelW), ExportContext.Ints("strides", op.Stride, op.Stride),
            ExportContext.Ints("pads", op.PadH, op.PadW, op.PadH, op.PadW), ExportContext.Ints("dilations", op.Dilation, op.Dilation), ExportContext.Int("group", op.Groups));
        if (op.AddsResidual) y = ctx.Emit("Add", [y, ctx.In(1)], $"{ctx.Node.Name}.residual");
        if (op.FusedRelu && float.IsPositiveInfinity(op.ReluMax)) y = ctx.Emit("Relu", [y], $"{ctx.Node.Name}.relu");
        else if (op.FusedRelu)
            y = ctx.Emit("Clip", [y, ctx.Initializer($"{ctx.Node.Name}.min", [], [0f]), ctx.Initializer($"{ctx.Node.Name}.max", [], [op.ReluMax])], $"{ctx.Node.Name}.clip");
        ctx.SetOutput(y);
    }
}
