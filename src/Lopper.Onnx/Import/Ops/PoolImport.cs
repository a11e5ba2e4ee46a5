using Lopper.Graph.Ops;
using Lopper.Tensors;

namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// ONNX MaxPool, AveragePool, GlobalAveragePool and ReduceMean over H and W to Lopper's pooling layers
/// (padding, ceil mode and count_include_pad as given; dilated pooling is refused).
/// </summary>
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
        bool ceil = a.Int("ceil_mode", 0) != 0;
        var sp = Window(ctx, a, x, ceil);
        var (kernel, padding) = sp.Square(ctx);
        if (padding * 2 > kernel) throw ctx.Fail($"padding {padding} is more than half the window {kernel}");
        ctx.Add(new MaxPool2dOp(kernel, sp.Stride, padding, ceil), [x]);
    }

    public static void AveragePool(ImportContext ctx)
    {
        var a = ctx.Attributes("auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides");
        var x = ctx.GraphInput(0, allowPads: true);
        bool ceil = a.Int("ceil_mode", 0) != 0;
        bool countPad = a.Int("count_include_pad", 0) != 0;
        // PyTorch writes avg_pool2d(padding=p, count_include_pad=True) as a zero Pad and an unpadded AveragePool:
        // the padded zeros are counted, which is count_include_pad with that padding (floor mode keeps every window inside).
        if (x.Pads is not null)
        {
            if (x.PadValue != 0f) throw ctx.Fail($"the Pad before this AveragePool fills with {x.PadValue}; only zero padding folds into average pooling");
            if (ceil) throw ctx.Fail("a Pad before an AveragePool with ceil_mode=1 cannot be folded (partial windows would count differently)");
            if (!countPad && a.Ints("pads") is { } own && own.Any(p => p != 0))
                throw ctx.Fail("a Pad before an AveragePool with its own pads and count_include_pad=0 cannot be folded");
            countPad = true;
        }
        var sp = Window(ctx, a, x, ceil);
        var (kernel, padding) = sp.Square(ctx);
        if (padding * 2 > kernel) throw ctx.Fail($"padding {padding} is more than half the window {kernel}");
        ctx.Add(new AvgPool2dOp(kernel, sp.Stride, padding, ceil, countPad), [x]);
    }

    private static Spatial Window(ImportContext ctx, OnnxAttributes a, ImportValue x, bool ceil)
    {
        if (x.Shape.Length != 4) throw ctx.Fail($"input must be [N, C, H, W], got {Tensor.Format(x.Shape)}");
        var sp = Spatial.Read(ctx, a, null, x.Pads, x.Shape, ceil);
        if (sp.Dilation != 1) throw ctx.Fail($"dilated pooling (dilations {sp.Dilation}) is not supported");
        return sp;
    }

    public static void GlobalAveragePool(ImportContext ctx)
    {
        ctx.Attributes();
        var x = ctx.GraphInput(0);
        if (x.Shape.Length != 4) throw ctx.Fail($"input must be [N, C, H, W], got {Tensor.Format(x.Shape)}");
        ctx.Add(new GlobalAvgPoolOp(), [x]);
    }

    // x.mean((2, 3)) (EfficientNet-style SE blocks, some classifier heads): global average pooling, flattened
    // when the reduced axes are dropped.
    public static void ReduceMean(ImportContext ctx)
    {
        if (LayerNormImport.TryReduceMean(ctx)) return;
        var a = ctx.Attributes("axes", "keepdims", "noop_with_empty_axes");
        var x = ctx.GraphInput(0);
        if (x.Shape.Length != 4) throw ctx.Fail($"ReduceMean is supported on [N, C, H, W] feature maps, got {Tensor.Format(x.Shape)}");
        long[]? axes = a.Ints("axes") ?? (ctx.HasInput(1) ? ctx.IntInput(1, "axes").Values : null);
        if (axes is null) throw ctx.Fail("ReduceMean over all axes is not supported; only over H and W (axes [2, 3])");
        var set = axes.Select(v => v < 0 ? v + 4 : v).Order().ToArray();
        if (!set.SequenceEqual([2L, 3L])) throw ctx.Fail($"ReduceMean over axes [{string.Join(",", axes)}] is not supported; only over H and W (axes [2, 3])");
        if (a.Int("keepdims", 1) != 0) ctx.Add(new GlobalAvgPoolOp(), [x]);
        else ctx.Add(new FlattenOp(), [ctx.Create(new GlobalAvgPoolOp(), [x], "pool")]);
    }
}
