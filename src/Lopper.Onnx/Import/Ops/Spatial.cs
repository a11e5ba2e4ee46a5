namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// The window attributes shared by Conv and the pooling ops, reduced to what Lopper's layers take: a square
/// kernel, one stride, one dilation, and the same padding on every side. Asymmetric padding is folded to the
/// top/left amount when the extra bottom/right padding is never read (the output size is the same either way,
/// so every window starts and ends at the same place); otherwise it fails naming the pads.
/// </summary>
internal readonly record struct Spatial(int Kernel, int Stride, int Padding, int Dilation)
{
    /// <summary>Reads kernel_shape (or the weight's spatial dims), strides, pads (plus a folded Pad) and dilations for an input of <paramref name="shape"/>.</summary>
    public static Spatial Read(ImportContext ctx, OnnxAttributes a, long[]? kernelFromWeight, int[]? extraPads, int[] shape, bool ceilMode = false)
    {
        if (a.Str("auto_pad", "NOTSET") is not ("NOTSET" or "VALID") and var ap)
            throw ctx.Fail($"auto_pad={ap} is not supported; re-export with explicit pads (PyTorch always writes them)");
        var k = a.Ints("kernel_shape") ?? kernelFromWeight ?? throw ctx.Fail("kernel_shape missing");
        if (k.Length != 2) throw ctx.Fail($"only 2-D windows are supported, got kernel_shape [{string.Join(",", k)}]");
        if (k[0] < 1 || k[1] < 1) throw ctx.Fail($"kernel_shape [{string.Join(",", k)}] must be positive");
        if (k[0] != k[1]) throw ctx.Fail($"non-square kernel {k[0]}x{k[1]} is not supported by Lopper's layers yet");
        var s = a.Ints("strides") ?? [1, 1];
        if (s.Length != 2 || s[0] != s[1] || s[0] < 1) throw ctx.Fail($"strides [{string.Join(",", s)}] must be two equal positive values");
        var d = a.Ints("dilations") ?? [1, 1];
        if (d.Length != 2 || d[0] != d[1] || d[0] < 1) throw ctx.Fail($"dilations [{string.Join(",", d)}] must be two equal positive values");
        var p = a.Ints("pads") ?? [0, 0, 0, 0];
        if (p.Length != 4) throw ctx.Fail($"pads [{string.Join(",", p)}] must have 4 values");
        long[] all = [p[0] + (extraPads?[0] ?? 0), p[1] + (extraPads?[1] ?? 0), p[2] + (extraPads?[2] ?? 0), p[3] + (extraPads?[3] ?? 0)];
        if (all.Any(x => x < 0)) throw ctx.Fail($"negative pads [{string.Join(",", all)}] are not supported");
        if (k[0] > 64 || s[0] > 64 || d[0] > 64 || all.Any(x => x > 64)) throw ctx.Fail("kernel, stride, dilation or padding over 64 is not supported");
        long pad = all[0];
        if (all.Any(x => x != pad))
        {
            long span = d[0] * (k[0] - 1) + 1;
            bool folds = !ceilMode && all[1] == pad && shape.Length == 4;
            for (int i = 0; folds && i < 2; i++)
                folds = (shape[2 + i] + all[i] + all[i + 2] - span) / s[0] == (shape[2 + i] + 2 * pad - span) / s[0];
            if (!folds)
                throw ctx.Fail($"padding [top,left,bottom,right] = [{string.Join(",", all)}] is not the same on every side and cannot be folded " +
                               "(Lopper's layers pad symmetrically); re-export with symmetric padding");
        }
        return new((int)k[0], (int)s[0], (int)pad, (int)d[0]);
    }
}
