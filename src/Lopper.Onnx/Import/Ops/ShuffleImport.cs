using Lopper.Graph.Ops;

namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// The channel shuffle as exporters write it (ShuffleNet's <c>x.view(N, g, C/g, H, W).transpose(1, 2).reshape(N, C, H, W)</c>):
/// a Reshape of a feature map to 5-D starts it, a Transpose of the two group axes continues it, and the Reshape
/// back to [N, C, H, W] becomes one channel_shuffle node. Any other use of the 5-D view fails naming its node.
/// </summary>
internal static class ShuffleImport
{
    /// <summary>Handles a Reshape of a feature map that starts or ends a shuffle; false when it is neither.</summary>
    public static bool TryReshape(ImportContext ctx, ImportValue x, long[] target, bool allowZero)
    {
        if (x.ShuffleOf is { } source)
        {
            if (!x.ShuffleSwapped) throw ctx.Fail("a channel-split view is reshaped before its group axes are transposed; only the channel shuffle pattern is supported");
            var back = Resolve(ctx, x, target, allowZero);
            if (back is null || !back.AsSpan().SequenceEqual(source.Shape.AsSpan(1)))
                throw ctx.Fail($"the end of a channel shuffle must reshape back to [N,{string.Join(",", source.Shape[1..])}], got [{string.Join(",", target)}]");
            ctx.Add(new ChannelShuffleOp(x.ShuffleGroups), [source]);
            return true;
        }
        if (x.Shape.Length != 4 || target.Length != 5) return false;
        var split = Resolve(ctx, x, target, allowZero);
        if (split is null || split[2] != x.Shape[2] || split[3] != x.Shape[3] || split[0] * split[1] != x.Shape[1] || split[0] < 1)
            throw ctx.Fail($"Reshape of a [N,{string.Join(",", x.Shape[1..])}] feature map to [{string.Join(",", target)}] is supported only as the channel split [N, groups, C/groups, H, W] of a channel shuffle");
        ctx.SetOutput(0, ImportValue.Shuffle(x, split[0], swapped: false));
        return true;
    }

    /// <summary>The Transpose in the middle of a shuffle (perm [0, 2, 1, 3, 4]).</summary>
    public static void Transpose(ImportContext ctx)
    {
        var a = ctx.Attributes("perm");
        var x = ctx.Input(0);
        var perm = a.Ints("perm");
        if (x.ShuffleOf is null || x.ShuffleSwapped || perm is null || !perm.SequenceEqual([0L, 2, 1, 3, 4]))
            throw ctx.Fail("Transpose of a feature map is supported only as the group swap [0, 2, 1, 3, 4] of a channel shuffle (Reshape-Transpose-Reshape)");
        ctx.SetOutput(0, ImportValue.Shuffle(x.ShuffleOf, x.ShuffleGroups, swapped: true));
    }

    // The target's per-sample dims (batch dropped), with 0 copied from the input and one -1 inferred; null when
    // the batch entry is not the batch or the sizes do not add up.
    private static int[]? Resolve(ImportContext ctx, ImportValue x, long[] target, bool allowZero)
    {
        long d0 = target[0];
        bool batchInferred = d0 == -1;
        if (!(batchInferred || d0 == ImportValue.BatchDim || (d0 == 0 && !allowZero) || (ctx.StaticBatch is long b && d0 == b))) return null;
        long numel = 1;
        for (int i = 1; i < x.Shape.Length; i++) numel *= x.Shape[i];
        var dims = new long[target.Length - 1];
        int infer = -1;
        long known = 1;
        for (int i = 1; i < target.Length; i++)
        {
            long d = target[i];
            if (d == 0 && !allowZero) d = i < x.Shape.Length ? x.Shape[i] : -2;
            if (d == -1 && !batchInferred && infer < 0) { infer = i - 1; continue; }
            if (d < 1) return null;
            dims[i - 1] = d;
            known *= d;
        }
        if (infer >= 0)
        {
            if (numel % known != 0) return null;
            dims[infer] = numel / known;
        }
        else if (known != numel) return null;
        return dims.Select(d => (int)d).ToArray();
    }
}
