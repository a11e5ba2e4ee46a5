using Lopper.Graph.Ops;
using Lopper.Tensors;

namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// LayerNorm over the channels as opset-13 exporters decompose it: mean = ReduceMean(x), d = Sub(x, mean),
/// var = ReduceMean(Pow(d, 2)), Div(d, Sqrt(Add(var, eps))), then Mul by a weight and Add of a bias, one per channel.
/// Channels-last (ConvNeXt: axes [-1] after a Transpose [0, 2, 3, 1]) or channels-first (axes [1]); either way it
/// becomes one layernorm2d on the [N, C, H, W] map. Each step is matched exactly (the same x in Sub and Div, the
/// square, one positive epsilon); anything else fails naming its node.
/// </summary>
internal static class LayerNormImport
{
    // The reduced axis is the channels: the last one channels-last, axis 1 channels-first.
    private static bool OverChannels(long[]? axes, bool channelsLast)
        => axes is { Length: 1 } && (channelsLast ? axes[0] is -1 or 3 : axes[0] is 1 or -3);

    /// <summary>ReduceMean over the channels (the mean, or the variance of a centred square); false for any other ReduceMean.</summary>
    public static bool TryReduceMean(ImportContext ctx)
    {
        var x = ctx.Input(0);
        if (!x.IsGraph || x.Shape.Length != 4) return false;
        var a = ctx.Attributes("axes", "keepdims", "noop_with_empty_axes");
        long[]? axes = a.Ints("axes") ?? (ctx.HasInput(1) ? ctx.IntInput(1, "axes").Values : null);
        var source = x.Pattern == ImportPattern.LnSquared ? x.PatternOf! : x;
        if (!OverChannels(axes, source.ChannelsLast))
        {
            if (x.Pattern == ImportPattern.LnSquared) throw ctx.Fail($"the variance of a LayerNorm must average the channels, got axes [{string.Join(",", axes ?? [])}]");
            return false;
        }
        if (a.Int("keepdims", 1) != 1) throw ctx.Fail("a ReduceMean over the channels must keep the axis (keepdims=1) to be read as part of a LayerNorm");
        if (x.Pattern == ImportPattern.LnSquared) ctx.SetOutput(0, ImportValue.View(x, x.ChannelsLast, ImportPattern.LnVariance, source));
        else if (ctx.FeatureInput(0) is { } f) ctx.SetOutput(0, ImportValue.View(f, f.ChannelsLast, ImportPattern.LnMean, f));
        else throw ctx.Fail("ReduceMean over the channels of a pattern step is not a LayerNorm");
        return true;
    }

    public static void Sub(ImportContext ctx)
    {
        if (IntegerArithmetic.Applies(ctx))
        {
            IntegerArithmetic.Fold(ctx);
            return;
        }
        ctx.Attributes();
        var x = ctx.FeatureInput(0);
        var mean = ctx.Input(1);
        if (x is null || mean.Pattern != ImportPattern.LnMean || !ImportValue.Same(x, mean.PatternOf))
            throw ctx.Fail("Sub of feature maps is supported only as the centring x - mean(x) of a LayerNorm over the channels");
        ctx.SetOutput(0, ImportValue.View(x, x.ChannelsLast, ImportPattern.LnCentered, x));
    }

    public static void Pow(ImportContext ctx)
    {
        ctx.Attributes();
        var d = ctx.Input(0);
        if (d.Pattern != ImportPattern.LnCentered || ctx.ScalarInput(1) != 2f)
            throw ctx.Fail("Pow is supported only as the square (x - mean(x))^2 inside a LayerNorm");
        ctx.SetOutput(0, ImportValue.View(d, d.ChannelsLast, ImportPattern.LnSquared, d.PatternOf));
    }

    public static void Sqrt(ImportContext ctx)
    {
        ctx.Attributes();
        var v = ctx.Input(0);
        if (v.Pattern != ImportPattern.LnVarianceEps) throw ctx.Fail("Sqrt is supported only as sqrt(variance + eps) inside a LayerNorm");
        ctx.SetOutput(0, ImportValue.View(v, v.ChannelsLast, ImportPattern.LnStd, v.PatternOf, v.PatternEps));
    }

    /// <summary>variance + eps; or the bias of a layernorm2d (when its output is read by this Add alone).</summary>
    public static bool TryAdd(ImportContext ctx)
    {
        var a = ctx.Input(0);
        var b = ctx.Input(1);
        int vi = a.Pattern == ImportPattern.LnVariance ? 0 : b.Pattern == ImportPattern.LnVariance ? 1 : -1;
        if (vi >= 0)
        {
            ctx.Attributes();
            var v = vi == 0 ? a : b;
            if (ctx.ScalarInput(1 - vi) is not float eps || !(eps > 0) || !float.IsFinite(eps))
                throw ctx.Fail("the variance of a LayerNorm must be added one positive constant epsilon");
            ctx.SetOutput(0, ImportValue.View(v, v.ChannelsLast, ImportPattern.LnVarianceEps, v.PatternOf, eps));
            return true;
        }
        int gi = a.Pattern is ImportPattern.LnNormalized or ImportPattern.LnScaled ? 0 : b.Pattern is ImportPattern.LnNormalized or ImportPattern.LnScaled ? 1 : -1;
        if (gi < 0 || ctx.Input(1 - gi).Float is not { } bias) return false;
        ctx.Attributes();
        var g = gi == 0 ? a : b;
        var ln = Affine(ctx, g, gi, bias, "bias");
        var weight = ctx.Weights[$"{g.Node}.weight"];
        ctx.Replace(g, ln, ("weight", weight), ("bias", new Tensor([ln.Channels], bias.Data)));
        ctx.SetOutput(0, ImportValue.View(g, g.ChannelsLast));
        return true;
    }

    /// <summary>x - mean over sqrt(variance + eps): one layernorm2d (weight 1, bias 0 until a Mul and an Add set them).</summary>
    public static bool TryDiv(ImportContext ctx)
    {
        var d = ctx.Input(0);
        var s = ctx.Input(1);
        if (d.Pattern != ImportPattern.LnCentered && s.Pattern != ImportPattern.LnStd) return false;
        ctx.Attributes();
        if (d.Pattern != ImportPattern.LnCentered || s.Pattern != ImportPattern.LnStd || !ImportValue.Same(d.PatternOf, s.PatternOf))
            throw ctx.Fail("a LayerNorm must divide x - mean(x) by sqrt(variance + eps) of the same x");
        var x = d.PatternOf!;
        int c = x.Shape[1];
        var op = new LayerNorm2dOp(c, s.PatternEps);
        var ones = new float[c];
        Array.Fill(ones, 1f);
        var y = ctx.Create(op, [ImportValue.View(x, false)], null, ("weight", new Tensor([c], ones)), ("bias", new Tensor([c])));
        ctx.SetOutput(0, ImportValue.View(y, x.ChannelsLast, ImportPattern.LnNormalized));
        return true;
    }

    /// <summary>The weight of a layernorm2d whose output only this Mul reads.</summary>
    public static bool TryMul(ImportContext ctx)
    {
        var a = ctx.Input(0);
        var b = ctx.Input(1);
        int gi = a.Pattern == ImportPattern.LnNormalized ? 0 : b.Pattern == ImportPattern.LnNormalized ? 1 : -1;
        if (gi < 0 || ctx.Input(1 - gi).Float is not { } w) return false;
        ctx.Attributes();
        var g = gi == 0 ? a : b;
        var ln = Affine(ctx, g, gi, w, "weight");
        ctx.Replace(g, ln, ("weight", new Tensor([ln.Channels], w.Data)), ("bias", ctx.Weights[$"{g.Node}.bias"]));
        ctx.SetOutput(0, ImportValue.View(g, g.ChannelsLast, ImportPattern.LnScaled));
        return true;
    }

    // The layernorm2d computing g, checked to be read by this node alone and to take one value per channel.
    private static LayerNorm2dOp Affine(ImportContext ctx, ImportValue g, int input, Tensor values, string role)
    {
        var ln = (LayerNorm2dOp)ctx.Producer(g)!.Op;
        if (ctx.Readers(ctx.Node.Input[input]) != 1)
            throw ctx.Fail($"the LayerNorm output '{ctx.Node.Input[input]}' is read elsewhere too, so its {role} cannot be folded into the layer");
        if (!PerChannel(values, ln.Channels, g.ChannelsLast))
            throw ctx.Fail($"a LayerNorm {role} must hold one value per channel ({(g.ChannelsLast ? $"[{ln.Channels}]" : $"[{ln.Channels},1,1]")}), got {Tensor.Format(values.Shape)}");
        return ln;
    }

    /// <summary>True when <paramref name="t"/> holds one value per channel, laid out to broadcast over a map in that layout.</summary>
    public static bool PerChannel(Tensor t, int channels, bool channelsLast)
    {
        if (t.Length != channels) return false;
        var s = t.Shape;
        return channelsLast ? s.Length >= 1 && s[^1] == channels : s.Length >= 3 && s[^3] == channels && s[^2] == 1 && s[^1] == 1;
    }
}
