using Lopper.Graph.Ops;

namespace Lopper.Onnx.Export.Ops;

/// <summary>
/// maxpool2d, avgpool2d and adaptiveavgpool to MaxPool, AveragePool and GlobalAveragePool. Padding,
/// ceil_mode and count_include_pad are written as they are (ONNX's ceil mode drops a last window that
/// would start in the right padding, as PyTorch does).
/// </summary>
internal static class PoolExport
{
    public static void MaxPool(ExportContext ctx)
    {
        var op = (MaxPool2dOp)ctx.Node.Op;
        ctx.SetOutput(ctx.Emit("MaxPool", [ctx.In(0)], null, ExportContext.Ints("kernel_shape", op.Kernel, op.Kernel),
            ExportContext.Ints("strides", op.Stride, op.Stride), ExportContext.Ints("pads", op.Padding, op.Padding, op.Padding, op.Padding),
            ExportContext.Int("ceil_mode", op.CeilMode ? 1 : 0)));
    }

    public static void AveragePool(ExportContext ctx)
    {
        var op = (AvgPool2dOp)ctx.Node.Op;
        ctx.SetOutput(ctx.Emit("AveragePool", [ctx.In(0)], null, ExportContext.Ints("kernel_shape", op.Kernel, op.Kernel),
            ExportContext.Ints("strides", op.Stride, op.Stride), ExportContext.Ints("pads", op.Padding, op.Padding, op.Padding, op.Padding),
            ExportContext.Int("ceil_mode", op.CeilMode ? 1 : 0), ExportContext.Int("count_include_pad", op.CountIncludePad ? 1 : 0)));
    }

    // Adaptive pooling has no ONNX op: 1x1 is GlobalAveragePool, an input that divides evenly into the output
    // is an AveragePool with equal windows; uneven bins (overlapping windows of varying size) have no exact form.
    public static void AdaptiveAveragePool(ExportContext ctx)
    {
        var op = (AdaptiveAvgPoolOp)ctx.Node.Op;
        var s = ctx.InputShape(0);
        int h = s[2], w = s[3];
        if (op.OutHeight == 1 && op.OutWidth == 1)
        {
            ctx.SetOutput(ctx.Emit("GlobalAveragePool", [ctx.In(0)]));
            return;
        }
        if (h % op.OutHeight != 0 || w % op.OutWidth != 0)
            throw ctx.Fail($"adaptive average pooling of {h}x{w} to {op.OutHeight}x{op.OutWidth} has uneven bins, which no ONNX pooling op computes; " +
                           "use an input size divisible by the output size");
        int kh = h / op.OutHeight, kw = w / op.OutWidth;
        ctx.SetOutput(ctx.Emit("AveragePool", [ctx.In(0)], null, ExportContext.Ints("kernel_shape", kh, kw), ExportContext.Ints("strides", kh, kw)));
    }
}
