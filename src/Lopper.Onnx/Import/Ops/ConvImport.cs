using Lopper.Graph.Ops;
using Lopper.Tensors;

namespace Lopper.Onnx.Import.Ops;

/// <summary>ONNX Conv to conv2d (groups, dilations, square or rectangular kernel, per-axis symmetric padding; a preceding zero Pad is folded in).</summary>
internal static class ConvImport
{
    public static void Import(ImportContext ctx)
    {
        var a = ctx.Attributes("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides");
        var x = ctx.GraphInput(0, allowPads: true);
        if (x.Pads is not null && x.PadValue != 0f) throw ctx.Fail($"the Pad before this Conv fills with {x.PadValue}, not 0; only zero padding folds into a convolution");
        var w = ctx.FloatInput(1, "weight");
        long group = a.Int("group", 1);
        if (w.Shape.Length != 4) throw ctx.Fail($"weight must be [out, in/group, kh, kw], got {Tensor.Format(w.Shape)}");
        if (x.Shape.Length != 4) throw ctx.Fail($"input must be [N, C, H, W], got {Tensor.Format(x.Shape)}");
        if (group < 1 || w.Shape[1] * group != x.Shape[1] || w.Shape[0] % group != 0)
            throw ctx.Fail($"weight {Tensor.Format(w.Shape)} with group={group} does not read the input's {x.Shape[1]} channels");
        var sp = Spatial.Read(ctx, a, [w.Shape[2], w.Shape[3]], x.Pads, x.Shape);
        if (sp.KernelH != w.Shape[2] || sp.KernelW != w.Shape[3]) throw ctx.Fail($"kernel_shape {sp.KernelH}x{sp.KernelW} does not match the weight's {w.Shape[2]}x{w.Shape[3]}");
        bool bias = ctx.HasInput(2);
        var op = new Conv2dOp(x.Shape[1], w.Shape[0], sp.KernelH, sp.Stride, sp.PadH, bias, groups: (int)group, dilation: sp.Dilation, kernelW: sp.KernelW, paddingW: sp.PadW);
        if (bias) ctx.Add(op, [x], ("weight", w), ("bias", ctx.FloatInput(2, "bias")));
        else ctx.Add(op, [x], ("weight", w));
    }
}
