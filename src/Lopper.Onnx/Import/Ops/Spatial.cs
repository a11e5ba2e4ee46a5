namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// The window attributes shared by Conv and the pooling ops, reduced to what today's Lopper layers take:
/// a square kernel, one stride, and the same padding on every side.
/// </summary>
internal readonly record struct Spatial(int Kernel, int Stride, int Padding)
{
    /// <summary>Reads kernel_shape (or the weight's spatial dims), strides, pads (plus a folded Pad) and dilations.</summary>
    public static Spatial Read(ImportContext ctx, OnnxAttributes a, long[]? kernelFromWeight, int[]? extraPads)
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
        if (d.Any(x => x != 1)) throw ctx.Fail($"dilations [{string.Join(",", d)}] are not supported yet (dilated convolution is part of issue 17)");
        var p = a.Ints("pads") ?? [0, 0, 0, 0];
        if (p.Length != 4) throw ctx.Fail($"pads [{string.Join(",", p)}] must have 4 values");
        long[] all = [p[0] + (extraPads?[0] ?? 0), p[1] + (extraPads?[1] ?? 0), p[2] + (extraPads?[2] ?? 0), p[3] + (extraPads?[3] ?? 0)];
        if (all.Any(x => x != all[0]) || all[0] < 0)
            throw ctx.Fail($"padding [top,left,bottom,right] = [{string.Join(",", all)}] is not the same on every side; Lopper's layers pad symmetrically");
        if (k[0] > 64 || s[0] > 64 || all[0] > 64) throw ctx.Fail("kernel, stride or padding over 64 is not supported");
        return new((int)k[0], (int)s[0], (int)all[0]);
    }
}
