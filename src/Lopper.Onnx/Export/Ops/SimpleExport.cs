using Lopper.Graph.Ops;

namespace Lopper.Onnx.Export.Ops;

/// <summary>The parameterless ops: relu, globalavgpool, add (with its fused ReLU), flatten, and dropout (the identity at inference).</summary>
internal static class SimpleExport
{
    public static void Relu(ExportContext ctx) => ctx.SetOutput(ctx.Emit("Relu", [ctx.In(0)]));

    public static void GlobalAveragePool(ExportContext ctx) => ctx.SetOutput(ctx.Emit("GlobalAveragePool", [ctx.In(0)]));

    public static void Flatten(ExportContext ctx) => ctx.SetOutput(ctx.Emit("Flatten", [ctx.In(0)], null, ExportContext.Int("axis", 1)));

    public static void Add(ExportContext ctx)
    {
        var op = (AddOp)ctx.Node.Op;
        string y = ctx.In(0);
        for (int i = 1; i < ctx.Node.Inputs.Length; i++) y = ctx.Emit("Add", [y, ctx.In(i)], i == ctx.Node.Inputs.Length - 1 && !op.FusedRelu ? null : $"{ctx.Node.Name}.sum");
        if (op.FusedRelu) y = ctx.Emit("Relu", [y]);
        ctx.SetOutput(y);
    }

    // A deployed model runs dropout as the identity; the exporter writes no node (the importer drops Dropout too).
    public static void Dropout(ExportContext ctx) => ctx.SetOutput(ctx.In(0));
}
