using Lopper.Graph.Ops;
using Lopper.Tensors;

namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// The channels-last region PyTorch writes for ConvNeXt-style blocks: Transpose [0, 2, 3, 1] starts a view of the
/// [N, C, H, W] map (no node), a MatMul by a [C, C'] constant over the last axis is a 1x1 convolution (its following
/// Add of a [C'] constant is the bias), and Transpose [0, 3, 1, 2] ends the view. LayerNorm and GELU inside the
/// region are read by their own importers; anything else that reads the view fails naming its node.
/// </summary>
internal static class ChannelsLastImport
{
    /// <summary>A Transpose into or out of the channels-last view; false for other Transposes.</summary>
    public static bool TryTranspose(ImportContext ctx)
    {
        if (ctx.FeatureInput(0) is not { } x || x.Shape.Length != 4) return false;
        var perm = ctx.Attributes("perm").Ints("perm");
        if (perm is null) return false;
        if (!x.ChannelsLast && perm.SequenceEqual([0L, 2, 3, 1])) ctx.SetOutput(0, ImportValue.View(x, true));
        else if (x.ChannelsLast && perm.SequenceEqual([0L, 3, 1, 2])) ctx.SetOutput(0, ImportValue.View(x, false));
        else if (x.ChannelsLast) throw ctx.Fail($"a channels-last view can only be transposed back with perm [0, 3, 1, 2], got [{string.Join(",", perm)}]");
        else return false;
        return true;
    }

    /// <summary>MatMul of a channels-last view by a [C, C'] constant: a bias-free 1x1 convolution.</summary>
    public static bool TryMatMul(ImportContext ctx)
    {
        if (ctx.FeatureInput(0) is not { ChannelsLast: true } x) return false;
        ctx.Attributes();
        var w = ctx.FloatInput(1, "weight");
        int c = x.Shape[1];
        if (w.Shape.Length != 2 || w.Shape[0] != c) throw ctx.Fail($"weight {Tensor.Format(w.Shape)} does not take the view's {c} channels");
        int outC = w.Shape[1];
        // [C, C'] -> the convolution's [C', C, 1, 1].
        var k = new Tensor([outC, c, 1, 1]);
        for (int i = 0; i < c; i++)
            for (int o = 0; o < outC; o++) k.Data[o * c + i] = w.Data[i * outC + o];
        var y = ctx.Create(new Conv2dOp(c, outC, 1, 1, 0, false), [ImportValue.View(x, false)], null, ("weight", k));
        ctx.SetOutput(0, ImportValue.View(y, true, ImportPattern.LinearNoBias));
        return true;
    }

    /// <summary>The bias of a convolution made from a MatMul, when only this Add reads it.</summary>
    public static bool TryAddBias(ImportContext ctx)
    {
        var a = ctx.Input(0);
        var b = ctx.Input(1);
        int gi = a.Pattern == ImportPattern.LinearNoBias ? 0 : b.Pattern == ImportPattern.LinearNoBias ? 1 : -1;
        if (gi < 0 || ctx.Input(1 - gi).Float is not { } bias) return false;
        ctx.Attributes();
        var g = gi == 0 ? a : b;
        var conv = (Conv2dOp)ctx.Producer(g)!.Op;
        if (ctx.Readers(ctx.Node.Input[gi]) != 1)
            throw ctx.Fail($"the MatMul output '{ctx.Node.Input[gi]}' is read elsewhere too, so this Add cannot become its bias");
        if (!LayerNormImport.PerChannel(bias, conv.OutChannels, g.ChannelsLast))
            throw ctx.Fail($"the bias of a MatMul over the channels must hold one value per output channel ({conv.OutChannels}), got {Tensor.Format(bias.Shape)}");
        ctx.Replace(g, conv.With(true, null, false, false), ("weight", ctx.Weights[$"{g.Node}.weight"]), ("bias", new Tensor([conv.OutChannels], bias.Data)));
        ctx.SetOutput(0, ImportValue.View(g, g.ChannelsLast));
        return true;
    }
}
