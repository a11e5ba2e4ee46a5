using Lopper.Graph.Ops;
using Lopper.Tensors;

namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// ONNX Flatten and Reshape. On a feature map only the classifier's flatten is supported: Flatten(axis=1),
/// or a Reshape to [N, -1] / [N, C*H*W] as PyTorch emits for <c>x.view(x.size(0), -1)</c> (the batch comes
/// from a folded Shape-Gather-Unsqueeze-Concat chain). On a constant, Reshape folds.
/// </summary>
internal static class FlattenImport
{
    public static void Flatten(ImportContext ctx)
    {
        var a = ctx.Attributes("axis");
        var x = ctx.GraphInput(0);
        long axis = a.Int("axis", 1);
        if (axis < 0) axis += x.Shape.Length;
        if (axis != 1) throw ctx.Fail($"Flatten with axis={a.Int("axis", 1)} is not supported; only axis=1 (keep the batch) is");
        ToMatrix(ctx, x);
    }

    public static void Reshape(ImportContext ctx)
    {
        var a = ctx.Attributes("allowzero");
        bool allowZero = a.Int("allowzero", 0) != 0;
        var (target, dims) = ctx.IntInput(1, "shape");
        if (dims.Length != 1) throw ctx.Fail("shape must be 1-D");
        var x = ctx.Input(0);
        if (!x.IsGraph)
        {
            FoldConstant(ctx, x, target, allowZero);
            return;
        }
        if (ShuffleImport.TryReshape(ctx, x, target, allowZero)) return;
        long rest = Tensor.Numel(x.Shape.AsSpan(1));
        bool batchFirst = target.Length == 2 && (target[0] == ImportValue.BatchDim || (target[0] == 0 && !allowZero) || (ctx.StaticBatch is long b && target[0] == b));
        bool flatten = (batchFirst && (target[1] == -1 || target[1] == rest)) || (target.Length == 2 && target[0] == -1 && target[1] == rest);
        if (!flatten)
            throw ctx.Fail($"Reshape of a [N,{string.Join(",", x.Shape[1..])}] feature map to [{string.Join(",", target.Select(Show))}] is not supported; Lopper imports only the classifier flatten x.view(N, -1)");
        ToMatrix(ctx, x);
    }

    private static string Show(long d) => d == ImportValue.BatchDim ? "N" : d.ToString();

    private static void ToMatrix(ImportContext ctx, ImportValue x)
    {
        if (x.Shape.Length == 2) ctx.SetOutput(0, x);
        else if (x.Shape.Length == 4) ctx.Add(new FlattenOp(), [x]);
        else throw ctx.Fail($"flattening a rank-{x.Shape.Length} value is not supported");
    }

    private static void FoldConstant(ImportContext ctx, ImportValue x, long[] target, bool allowZero)
    {
        int[] inDims = x.Float?.Shape ?? x.IntDims;
        long n = x.Float?.Length ?? x.Ints!.Length;
        var shape = new long[target.Length];
        int infer = -1;
        long known = 1;
        for (int i = 0; i < target.Length; i++)
        {
            long d = target[i];
            if (d == 0 && !allowZero) d = i < inDims.Length ? inDims[i] : throw ctx.Fail("shape copies a dimension the input lacks");
            if (d == -1) { if (infer >= 0) throw ctx.Fail("shape has two -1 entries"); infer = i; continue; }
            if (d < 0) throw ctx.Fail($"invalid shape entry {d}");
            shape[i] = d;
            known *= d;
        }
        if (infer >= 0) shape[infer] = known == 0 ? 0 : n / known;
        long total = 1;
        foreach (long d in shape) total *= d;
        if (total != n) throw ctx.Fail($"cannot reshape {n} values to [{string.Join(",", target)}]");
        var intShape = shape.Select(d => (int)d).ToArray();
        ctx.SetOutput(0, x.Float is { } f ? ImportValue.Constant(new Tensor(intShape, f.Data)) : ImportValue.Constant(x.Ints!, intShape));
    }
}
