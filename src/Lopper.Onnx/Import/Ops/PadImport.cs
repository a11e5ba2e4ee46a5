namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// ONNX Pad of H and W with a constant: left pending on the value and folded into the Conv (zero) or
/// MaxPool (-inf) that reads it; any other reader fails naming itself.
/// </summary>
internal static class PadImport
{
    public static void Import(ImportContext ctx)
    {
        var a = ctx.Attributes("mode", "pads", "value");
        if (a.Str("mode", "constant") != "constant") throw ctx.Fail($"mode '{a.Str("mode", "constant")}' is not supported; only constant padding folds into a layer");
        var x = ctx.GraphInput(0, allowPads: true);
        long[] pads;
        float value = a.Float("value", 0f);
        if (a.Has("pads")) pads = a.Ints("pads")!;
        else
        {
            pads = ctx.IntInput(1, "pads").Values;
            if (ctx.InputCount > 2 && ctx.HasInput(2))
            {
                var v = ctx.FloatInput(2, "constant_value");
                if (v.Length != 1) throw ctx.Fail("constant_value must be a scalar");
                value = v.Data[0];
            }
            if (ctx.InputCount > 3) throw ctx.Fail("the axes input is not supported; pad all four dims");
        }
        if (x.Shape.Length != 4 || pads.Length != 8) throw ctx.Fail($"only 4-D padding is supported, got pads [{string.Join(",", pads)}]");
        if (pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0) throw ctx.Fail("padding the batch or channel dimension is not supported");
        if (pads.Any(p => p < 0 || p > 64)) throw ctx.Fail($"pads [{string.Join(",", pads)}] must be between 0 and 64");
        // PyTorch writes a Pad of zeros before some AveragePools: it changes nothing.
        if (pads.All(p => p == 0))
        {
            ctx.SetOutput(0, x);
            return;
        }
        if (x.Pads is not null && x.PadValue != value) throw ctx.Fail("two Pads with different fill values cannot be folded together");
        ctx.SetOutput(0, x.Padded([(int)pads[2], (int)pads[3], (int)pads[6], (int)pads[7]], value));
    }
}
