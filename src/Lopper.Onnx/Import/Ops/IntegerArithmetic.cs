namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// Add, Sub, Mul and Div of integer constants, folded at import: the shape arithmetic exporters emit
/// (ShuffleNet's <c>channels // groups</c>). A scalar broadcasts over the other operand; the run-time batch
/// size cannot take part (its value is unknown until run time).
/// </summary>
internal static class IntegerArithmetic
{
    /// <summary>True when both inputs are integer constants (then this node is shape arithmetic).</summary>
    public static bool Applies(ImportContext ctx) => ctx.InputCount == 2 && ctx.Input(0).Ints is not null && ctx.Input(1).Ints is not null;

    public static void Fold(ImportContext ctx)
    {
        ctx.Attributes();
        var (a, da) = ctx.IntInput(0, "A");
        var (b, db) = ctx.IntInput(1, "B");
        if (a.Length != b.Length && a.Length != 1 && b.Length != 1)
            throw ctx.Fail($"integer operands of {a.Length} and {b.Length} values do not broadcast");
        int n = Math.Max(a.Length, b.Length);
        var r = new long[n];
        for (int i = 0; i < n; i++)
        {
            long x = a[a.Length == 1 ? 0 : i], y = b[b.Length == 1 ? 0 : i];
            if (x == ImportValue.BatchDim || y == ImportValue.BatchDim)
                throw ctx.Fail("arithmetic on the run-time batch size is not supported; export with a fixed shape or x.view(x.size(0), -1)");
            r[i] = ctx.Node.OpType switch
            {
                "Add" => x + y,
                "Sub" => x - y,
                "Mul" => x * y,
                "Div" => y == 0 ? throw ctx.Fail("integer division by zero") : x / y,
                _ => throw ctx.Fail($"{ctx.Node.OpType} of integer constants is not supported"),
            };
        }
        ctx.SetOutput(0, ImportValue.Constant(r, a.Length >= b.Length ? da : db));
    }

    /// <summary>Div: integer shape arithmetic, or a step of the LayerNorm and GELU patterns (dividing feature maps is not a layer Lopper has).</summary>
    public static void Div(ImportContext ctx)
    {
        if (!Applies(ctx))
        {
            if (LayerNormImport.TryDiv(ctx) || GeluImport.TryDiv(ctx)) return;
            throw ctx.Fail("Div is supported only on integer shape constants and inside LayerNorm and GELU patterns; dividing feature maps is not supported");
        }
        Fold(ctx);
    }
}
