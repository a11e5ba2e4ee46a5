using Lopper.Graph.Ops;
using Lopper.Tensors;

namespace Lopper.Onnx.Import.Ops;

/// <summary>ONNX Gemm (A x B' + C, as nn.Linear exports) and MatMul by a constant (a bias-free linear, whose following Add becomes its bias).</summary>
internal static class LinearImport
{
    public static void Gemm(ImportContext ctx)
    {
        var a = ctx.Attributes("alpha", "beta", "transA", "transB");
        if (a.Int("transA", 0) != 0) throw ctx.Fail("transA=1 is not supported (the features must be the first operand)");
        var x = ctx.GraphInput(0);
        if (x.Shape.Length != 2) throw ctx.Fail($"input must be [N, features], got {Tensor.Format(x.Shape)}; flatten first");
        var b = ctx.FloatInput(1, "weight");
        if (b.Shape.Length != 2) throw ctx.Fail($"weight must be 2-D, got {Tensor.Format(b.Shape)}");
        var w = a.Int("transB", 0) != 0 ? b : Transpose(b);
        float alpha = a.Float("alpha", 1f), beta = a.Float("beta", 1f);
        if (alpha != 1f) w = Scaled(w, alpha);
        int outF = w.Shape[0], inF = w.Shape[1];
        if (inF != x.Shape[1]) throw ctx.Fail($"weight takes {inF} features, the input has {x.Shape[1]}");
        if (!ctx.HasInput(2))
        {
            ctx.Add(new LinearOp(inF, outF, bias: false), [x], ("weight", w));
            return;
        }
        var c = ctx.FloatInput(2, "bias");
        if (c.Length != outF) throw ctx.Fail($"bias has {c.Length} values, Lopper needs one per output ({outF}); broadcast biases are not supported");
        if (beta != 1f) c = Scaled(c, beta);
        ctx.Add(new LinearOp(inF, outF, bias: true), [x], ("weight", w), ("bias", c));
    }

    public static void MatMul(ImportContext ctx)
    {
        if (ChannelsLastImport.TryMatMul(ctx)) return;
        ctx.Attributes();
        var x = ctx.GraphInput(0);
        if (x.Shape.Length != 2) throw ctx.Fail($"only [N, features] x constant matrix is supported, got input {Tensor.Format(x.Shape)}");
        var b = ctx.FloatInput(1, "weight");
        if (b.Shape.Length != 2 || b.Shape[0] != x.Shape[1]) throw ctx.Fail($"weight {Tensor.Format(b.Shape)} does not take {x.Shape[1]} features");
        ctx.Add(new LinearOp(b.Shape[0], b.Shape[1], bias: false), [x], ("weight", Transpose(b)));
    }

    private static Tensor Transpose(Tensor m)
    {
        int r = m.Shape[0], c = m.Shape[1];
        var t = new Tensor(c, r);
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) t.Data[j * r + i] = m.Data[i * c + j];
        return t;
    }

    private static Tensor Scaled(Tensor t, float s)
    {
        var r = t.Clone();
        System.Numerics.Tensors.TensorPrimitives.Multiply(r.Data, s, r.Data);
        return r;
    }
}
