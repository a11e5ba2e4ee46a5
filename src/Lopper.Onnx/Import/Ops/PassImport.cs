namespace Lopper.Onnx.Import.Ops;

/// <summary>ONNX Dropout (inference: the identity) and Identity: the output is bound to the input, no node added.</summary>
internal static class PassImport
{
    public static void Dropout(ImportContext ctx)
    {
        ctx.Attributes("ratio", "seed", "is_test");
        ctx.RequireUnused(1, "mask");
        if (ctx.InputCount > 2)
        {
            var (mode, _) = ctx.IntInput(2, "training_mode");
            if (mode.Length != 1 || mode[0] != 0) throw ctx.Fail("training_mode must be false; export the model in eval mode");
        }
        ctx.SetOutput(0, ctx.Input(0));
    }

    public static void Identity(ImportContext ctx)
    {
        ctx.Attributes();
        ctx.SetOutput(0, ctx.Input(0));
    }
}
