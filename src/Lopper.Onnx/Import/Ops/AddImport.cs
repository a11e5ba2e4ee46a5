using Lopper.Graph.Ops;
using Lopper.Tensors;

namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// ONNX Add: two same-shaped feature maps become a residual add; a constant added to a bias-free linear
/// (MatMul + Add, as some exporters write nn.Linear) becomes that linear's bias.
/// </summary>
internal static class AddImport
{
    public static void Import(ImportContext ctx)
    {
        if (IntegerArithmetic.Applies(ctx))
        {
            IntegerArithmetic.Fold(ctx);
            return;
        }
        if (LayerNormImport.TryAdd(ctx) || GeluImport.TryAdd(ctx) || ChannelsLastImport.TryAddBias(ctx)) return;
        ctx.Attributes();
        var a = ctx.Input(0);
        var b = ctx.Input(1);
        if (a.IsGraph && b.IsGraph)
        {
            var x = ctx.GraphInput(0);
            var y = ctx.GraphInput(1);
            if (!x.Shape.AsSpan().SequenceEqual(y.Shape))
                throw ctx.Fail($"adding {Tensor.Format(x.Shape)} and {Tensor.Format(y.Shape)}: broadcasting feature maps is not supported");
            ctx.Add(new AddOp(), [x, y]);
            return;
        }
        if (!a.IsGraph && !b.IsGraph) throw ctx.Fail("adding two constants is not supported (fold it in the exporter)");
        var g = a.IsGraph ? ctx.GraphInput(0) : ctx.GraphInput(1);
        var c = ctx.FloatInput(a.IsGraph ? 1 : 0, "addend");
        if (ctx.Producer(g)?.Op is LinearOp { HasBias: false } lin && ctx.Readers(ctx.Node.Input[a.IsGraph ? 0 : 1]) == 1)
        {
            if (c.Length != lin.OutFeatures) throw ctx.Fail($"bias has {c.Length} values, the linear layer has {lin.OutFeatures} outputs");
            ctx.Replace(g, new LinearOp(lin.InFeatures, lin.OutFeatures, bias: true), ("bias", new Tensor([lin.OutFeatures], c.Data)));
            ctx.SetOutput(0, g);
            return;
        }
        throw ctx.Fail("adding a constant to a feature map is supported only as the bias of a MatMul");
    }
}
