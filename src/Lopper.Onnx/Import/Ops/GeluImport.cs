using Lopper.Graph.Ops;

namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// The exact GELU as exporters decompose it: Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5), in either layout. The
/// constants must be float32's sqrt 2, 1 and 0.5 and the two x the same map, or the node fails; it becomes one gelu.
/// </summary>
internal static class GeluImport
{
    private static readonly float Sqrt2 = MathF.Sqrt(2f);

    /// <summary>x / sqrt 2 (the first step); false for any other Div.</summary>
    public static bool TryDiv(ImportContext ctx)
    {
        if (ctx.FeatureInput(0) is not { } x || ctx.ScalarInput(1) is not float s) return false;
        ctx.Attributes();
        if (s != Sqrt2) throw ctx.Fail($"dividing a feature map by {s} is supported only as x / sqrt(2) inside GELU");
        ctx.SetOutput(0, ImportValue.View(x, x.ChannelsLast, ImportPattern.GeluScaled, x));
        return true;
    }

    public static void Erf(ImportContext ctx)
    {
        ctx.Attributes();
        var v = ctx.Input(0);
        if (v.Pattern != ImportPattern.GeluScaled) throw ctx.Fail("Erf is supported only as erf(x / sqrt 2) inside GELU");
        ctx.SetOutput(0, ImportValue.View(v, v.ChannelsLast, ImportPattern.GeluErf, v.PatternOf));
    }

    /// <summary>1 + erf(x / sqrt 2).</summary>
    public static bool TryAdd(ImportContext ctx)
    {
        var a = ctx.Input(0);
        var b = ctx.Input(1);
        int ei = a.Pattern == ImportPattern.GeluErf ? 0 : b.Pattern == ImportPattern.GeluErf ? 1 : -1;
        if (ei < 0) return false;
        ctx.Attributes();
        if (ctx.ScalarInput(1 - ei) != 1f) throw ctx.Fail("erf(x / sqrt 2) must be added 1 inside GELU");
        var e = ei == 0 ? a : b;
        ctx.SetOutput(0, ImportValue.View(e, e.ChannelsLast, ImportPattern.GeluErfPlusOne, e.PatternOf));
        return true;
    }

    /// <summary>x * (1 + erf(x / sqrt 2)), then that times 0.5: the gelu node.</summary>
    public static bool TryMul(ImportContext ctx)
    {
        var a = ctx.Input(0);
        var b = ctx.Input(1);
        int pi = a.Pattern == ImportPattern.GeluErfPlusOne ? 0 : b.Pattern == ImportPattern.GeluErfPlusOne ? 1 : -1;
        if (pi >= 0)
        {
            ctx.Attributes();
            var p = pi == 0 ? a : b;
            var x = ctx.FeatureInput(1 - pi);
            if (!ImportValue.Same(x, p.PatternOf)) throw ctx.Fail("GELU must multiply 1 + erf(x / sqrt 2) by the same x");
            ctx.SetOutput(0, ImportValue.View(x!, x!.ChannelsLast, ImportPattern.GeluProduct, x));
            return true;
        }
        int gi = a.Pattern == ImportPattern.GeluProduct ? 0 : b.Pattern == ImportPattern.GeluProduct ? 1 : -1;
        if (gi < 0) return false;
        ctx.Attributes();
        if (ctx.ScalarInput(1 - gi) != 0.5f) throw ctx.Fail("x * (1 + erf(x / sqrt 2)) must be multiplied by 0.5 to be GELU");
        var source = (gi == 0 ? a : b).PatternOf!;
        var y = ctx.Create(new GeluOp(), [ImportValue.View(source, false)], null);
        ctx.SetOutput(0, ImportValue.View(y, source.ChannelsLast));
        return true;
    }
}
