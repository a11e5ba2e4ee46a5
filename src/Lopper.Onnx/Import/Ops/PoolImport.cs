using Lopper.Graph.Ops;

namespace Lopper.Onnx.Import.Ops;

/// <summary>ONNX MaxPool, AveragePool and GlobalAveragePool to Lopper's pooling layers (floor mode, symmetric padding).</summary>
internal static class PoolImport
{
    public static void MaxPool(ImportContext ctx)
    {
        var a = ctx.Attributes("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides");
        ctx.RequireUnused(1, "indices");
        var x = ctx.GraphInput(0, allowPads: true);
        if (x.Pads is not null && !float.IsNegativeInfinity(x.PadValue))
            throw ctx.Fail($"the Pad before this MaxPool fills with {x.PadValue}; only -inf padding folds into max pooling");
        if (a.Int("storage_order", 0) != 0) throw ctx.Fail("storage_order=1 is not supported");
        var sp = Spatial.Read(ctx, a, null, x.Pads);
        CheckCeil(ctx, a, x.Shape, sp);
        if (sp.Padding * 2 > sp.Kernel) throw ctx.Fail($"padding {sp.Padding} is more than half the window {sp.Kernel}");
        ctx.Add(new MaxPool2dOp(sp.Kernel, sp.Stride, sp.Padding), [x]);
    }

    public static void AveragePool(ImportContext ctx)
    {
        var a = ctx.Attributes("auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides");
        var x = ctx.GraphInput(0);
        var sp = Spatial.Read(ctx, a, null, null);
        CheckCeil(ctx, a, x.Shape, sp);
        if (sp.Padding != 0) throw ctx.Fail($"padded average pooling (pads {sp.Padding}) is not supported yet: it needs pooling padding (issue 17)");
        ctx.Add(new AvgPool2dOp(sp.Kernel, sp.Stride), [x]);
    }

    public static void GlobalAveragePool(ImportContext ctx)
    {
        ctx.Attributes();
        var x = ctx.GraphInput(0);
        if (x.Shape.Length != 4) throw ctx.Fail($"input must be [N, C, H, W], got {Lopper.Tensors.Tensor.Format(x.Shape)}");
        ctx.Add(new GlobalAvgPoolOp(), [x]);
    }

    // Ceil mode changes nothing when every window fits exactly, which is common (32 -> 16 with 2x2/2).
    private static void CheckCeil(ImportContext ctx, OnnxAttributes a, int[] shape, Spatial sp)
    {
        if (a.Int("ceil_mode", 0) == 0) return;
        for (int d = 2; d < 4; d++)
            if ((shape[d] + 2 * sp.Padding - sp.Kernel) % sp.Stride != 0)
                throw ctx.Fail($"ceil_mode=1 on a {shape[2]}x{shape[3]} input adds a partial window, which is not supported yet (pooling ceil mode is part of issue 17)");
    }
}
