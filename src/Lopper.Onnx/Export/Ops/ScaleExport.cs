using Lopper.Graph;
using Lopper.Graph.Ops;

namespace Lopper.Onnx.Export.Ops;

/// <summary>
/// channelmul and gate to Mul by a constant: the per-channel scale, or the gate's inference multiplier
/// (<see cref="GateOp.Inference"/>), shaped [C, 1, 1] (or [C] on features) to broadcast over the map.
/// </summary>
internal static class ScaleExport
{
    public static void ChannelMul(ExportContext ctx) => Mul(ctx, ctx.Parameters[0].Data);

    public static void Gate(ExportContext ctx)
    {
        var op = (GateOp)ctx.Node.Op;
        var theta = ctx.Parameters[GateOp.ThetaIndex].Data;
        var scale = new float[op.IsBlockGate ? 1 : op.Channels];
        for (int c = 0; c < scale.Length; c++) scale[c] = GateOp.Inference(theta[c]);
        Mul(ctx, scale);
    }

    private static void Mul(ExportContext ctx, float[] scale)
    {
        int rank = ctx.Model.Graph.Nodes[ctx.Node.InputIndices[0]].OutputShape.Length;
        long[] dims = scale.Length == 1 ? [1] : rank == 4 ? [scale.Length, 1, 1] : [scale.Length];
        string s = ctx.Initializer($"{ctx.Node.Name}.scale", dims, scale);
        ctx.SetOutput(ctx.Emit("Mul", [ctx.In(0), s]));
    }
}
