using Lopper.Graph.Ops;

namespace Lopper.Onnx.Export.Ops;

/// <summary>
/// The channel-wiring ops: concat (Concat on axis 1), mul (Mul; ONNX broadcasts an [N,C,1,1] gate itself),
/// channel_slice (Slice with constant bounds on axis 1) and channel_shuffle (Reshape-Transpose-Reshape, the
/// form PyTorch exports, with 0 in the shapes to keep the run-time batch size).
/// </summary>
internal static class ChannelExport
{
    public static void Concat(ExportContext ctx)
    {
        var inputs = new string[ctx.Node.Inputs.Length];
        for (int i = 0; i < inputs.Length; i++) inputs[i] = ctx.In(i);
        ctx.SetOutput(ctx.Emit("Concat", inputs, null, ExportContext.Int("axis", 1)));
    }

    public static void Mul(ExportContext ctx) => ctx.SetOutput(ctx.Emit("Mul", [ctx.In(0), ctx.In(1)]));

    public static void Slice(ExportContext ctx)
    {
        var op = (ChannelSliceOp)ctx.Node.Op;
        string n = ctx.Node.Name;
        ctx.SetOutput(ctx.Emit("Slice", [ctx.In(0), ctx.Int64Initializer($"{n}.starts", op.Start), ctx.Int64Initializer($"{n}.ends", op.Start + op.Channels),
            ctx.Int64Initializer($"{n}.axes", 1)]));
    }

    public static void Shuffle(ExportContext ctx)
    {
        var op = (ChannelShuffleOp)ctx.Node.Op;
        var s = ctx.InputShape(0);
        string n = ctx.Node.Name;
        long[] split = [0, op.Groups, s[1] / op.Groups, .. s[2..].Select(d => (long)d)];
        long[] back = [0, .. s[1..].Select(d => (long)d)];
        var perm = Enumerable.Range(0, split.Length).Select(i => (long)(i is 1 ? 2 : i is 2 ? 1 : i)).ToArray();
        string y = ctx.Emit("Reshape", [ctx.In(0), ctx.Int64Initializer($"{n}.split_shape", split)], $"{n}.split");
        y = ctx.Emit("Transpose", [y], $"{n}.transpose", ExportContext.Ints("perm", perm));
        ctx.SetOutput(ctx.Emit("Reshape", [y, ctx.Int64Initializer($"{n}.shape", back)]));
    }
}
