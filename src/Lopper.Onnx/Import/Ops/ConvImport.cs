using Lopper.Graph.Ops;

namespace Lopper.Onnx.Import.Ops;

/// <summary>ONNX Conv to conv2d (groups 1, square kernel, symmetric padding; a preceding zero Pad is folded in).</summary>
internal static class ConvImport
{
    public static void Import(ImportContext ctx)
    {
        var a = ctx.Attributes("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides");
        var x = ctx.GraphInput(0, allowPads: true);
        if (x.Pads is not null && x.PadValue != 0f) throw ctx.Fail($"the Pad before this Conv fills with {x.PadValue}, not 0; only zero padding folds into a convolution");
        var w = ctx.FloatInput(1, "weight");
        long group = a.Int("group", 1);
        if (group != 1)
            throw ctx.Fail($"grouped convolution (group={group}) is not supported yet: it needs grouped/depthwise conv2d (issue 17)");
        if (w.Shape.Length != 4) throw ctx.Fail($"weight must be [out, in, kh, kw], got {Lopper.Tensors.Tensor.Format(w.Shape)}");
        if (x.Shape.Length != 4) throw ctx.Fail($"input must be [N, C, H, W], got {Lopper.Tensors.Tensor.Format(x.Shape)}");
        if (w.Shape[1] != x.Shape[1]) throw ctx.Fail($"weight reads {w.Shape[1]} channels, the input has {x.Shape[1]}");
        var sp = Spatial.Read(ctx, a, [w.Shape[2], w.Shape[3]], x.Pads);
        if (sp.Kernel != w.Shape[2] || w.Shape[2] != w.Shape[3]) throw ctx.Fail($"kernel_shape does not match the weight's {w.Shape[2]}x{w.Shape[3]}");
        bool bias = ctx.HasInput(2);
        var op = new Conv2dOp(w.Shape[1], w.Shape[0], sp.Kernel, sp.Stride, sp.Padding, bias);
        if (bias) ctx.Add(op, [x], ("weight", w), ("bias", ctx.FloatInput(2, "bias")));
        else ctx.Add(op, [x], ("weight", w));
    }
}
