using Lopper.Graph.Ops;

namespace Lopper.Onnx.Import.Ops;

/// <summary>ONNX Relu to relu.</summary>
internal static class ReluImport
{
    public static void Import(ImportContext ctx)
    {
        ctx.Attributes();
        ctx.Add(new ReluOp(), [ctx.GraphInput(0)]);
    }
}
