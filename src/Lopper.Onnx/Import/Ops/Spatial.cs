namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// The window attributes shared by Conv and the pooling ops, reduced to what Lopper's layers take: a kernel of
/// any height and width, one stride, one dilation, and per axis the same padding on both sides. Asymmetric
/// padding along an axis is folded to the top/left amount when the extra bottom/right padding is never read (the
/// output size is the same either way, so every window starts and ends at the same place); otherwise it fails
/// naming the pads. Pooling takes only square windows with equal padding (<see cref="Square"/>).
/// </summary>
internal readonly record struct Spatial(int KernelH, int KernelW, int Stride, int PadH, int PadW, int Dilation)
{
    /// <summary>The square window's size and padding, or a failure naming the node for a rectangular one (pooling).</summary>
    public (int Kernel, int Padding) Square(ImportContext ctx)
    {
        if (KernelH != KernelW) throw ctx.Fail($"non-square window {KernelH}x{KernelW} is supported for Conv only, not for pooling");
        if (PadH != PadW) throw ctx.Fail($"padding {PadH} rows and {PadW} columns differs between the axes; pooling pads every side alike");
        return (KernelH, PadH);
    }

    /// <summary>Reads kernel_shape (or the weight's spatial dims), strides, pads (plus a folded Pad) and dilations for an input of <paramref name="shape"/>.</summary>
    public static Spatial Read(ImportContext ctx, OnnxAttributes a, long[]? kernelFromWeight, int[]? extraPads, int[] shape, bool ceilMode = false)
    {
        if (a.Str("auto_pad", "NOTSET") is not ("NOTSET" or "VALID") and var ap)
            throw ctx.Fail($"auto_pad={ap} is not supported; re-export with explicit pads (PyTorch always writes them)");
        var k = a.Ints("kernel_shape") ?? kernelFromWeight ?? throw ctx.Fail("kernel_shape missing");
        if (k.Length != 2) throw ctx.Fail($"only 2-D windows are supported, got kernel_shape [{string.Join(",", k)}]");
        if (k[0] < 1 || k[1] < 1) throw ctx.Fail($"kernel_shape [{string.Join(",", k)}] must be positive");
        var s = a.Ints("strides") ?? [1, 1];
        if (s.Length != 2 || s[0] != s[1] || s[0] < 1) throw ctx.Fail($"strides [{string.Join(",", s)}] must be two equal positive values");
        var d = a.Ints("dilations") ?? [1, 1];
        if (d.Length != 2 || d[0] != d[1] || d[0] < 1) throw ctx.Fail($"dilations [{string.Join(",", d)}] must be two equal positive values");
        var p = a.Ints("pads") ?? [0, 0, 0, 0];
        if (p.Length != 4) throw ctx.Fail($"pads [{string.Join(",", p)}] must have 4 values");
        long[] all = [p[0] + (extraPads?[0] ?? 0), p[1] + (extraPads?[1] ?? 0), p[2] + (extraPads?[2] ?? 0), p[3] + (extraPads?[3] ?? 0)];
        if (all.Any(x => x < 0)) throw ctx.Fail($"negative pads [{string.Join(",", all)}] are not supported");
        if (k[0] > 64 || k[1] > 64 || s[0] > 64 || d[0] > 64 || all.Any(x => x > 64)) throw ctx.Fail("kernel, stride, dilation or padding over 64 is not supported");
        // pads are [top, left, bottom, right]: axis i (0 rows, 1 columns) begins with all[i] and ends with all[i + 2].
        for (int i = 0; i < 2; i++)
        {
            if (all[i] == all[i + 2]) continue;
            long span = d[0] * (k[i] - 1) + 1;
            bool folds = !ceilMode && shape.Length == 4
                && (shape[2 + i] + all[i] + all[i + 2] - span) / s[0] == (shape[2 + i] + 2 * all[i] - span) / s[0];
            if (!folds)
                throw ctx.Fail($"padding [top,left,bottom,right] = [{string.Join(",", all)}] differs between the two sides of an axis and cannot be folded " +
                               "(Lopper's layers pad both sides of an axis alike); re-export with symmetric padding");
        }
        return new((int)k[0], (int)k[1], (int)s[0], (int)all[0], (int)all[1], (int)d[0]);
    }
}
