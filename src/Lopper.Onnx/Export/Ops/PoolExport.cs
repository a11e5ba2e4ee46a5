using Lopper.Graph.Ops;

namespace Lopper.Onnx.Export.Ops;

/// <summary>maxpool2d and avgpool2d to MaxPool and AveragePool (floor mode).</summary>
internal static class PoolExport
{
    public static void MaxPool(ExportContext ctx)
    {
        var op = (MaxPool2dOp)ctx.Node.Op;
        ctx.SetOutput(ctx.Emit("MaxPool", [ctx.In(0)], null, ExportContext.Ints("kernel_shape", op.Kernel, op.Kernel),
            ExportContext.Ints("strides", op.Stride, op.Stride), ExportContext.Ints("pads", op.Padding, op.Padding, op.Padding, op.Padding)));
    }

    public static void AveragePool(ExportContext ctx)
    {
        var op = (AvgPool2dOp)ctx.Node.Op;
        ctx.SetOutput(ctx.Emit("AveragePool", [ctx.In(0)], null, ExportContext.Ints("kernel_shape", op.Kernel, op.Kernel),
            ExportContext.Ints("strides", op.Stride, op.Stride)));
    }
}
