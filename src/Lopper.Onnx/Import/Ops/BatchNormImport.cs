using Lopper.Graph.Ops;

namespace Lopper.Onnx.Import.Ops;

/// <summary>ONNX BatchNormalization (inference form) to batchnorm2d with its running statistics.</summary>
internal static class BatchNormImport
{
    public static void Import(ImportContext ctx)
    {
        var a = ctx.Attributes("epsilon", "momentum", "training_mode", "spatial", "is_test", "consumed_inputs");
        if (a.Int("training_mode", 0) != 0) throw ctx.Fail("training_mode=1 is not supported; export the model in eval mode");
        if (a.Int("spatial", 1) != 1) throw ctx.Fail("spatial=0 (per-position statistics) is not supported");
        ctx.RequireUnused(1, "training statistics");
        var x = ctx.GraphInput(0);
        if (x.Shape.Length != 4) throw ctx.Fail($"input must be [N, C, H, W], got {Lopper.Tensors.Tensor.Format(x.Shape)}");
        int c = x.Shape[1];
        // ONNX's momentum weighs the old statistic (0.9 by default); PyTorch's (and Lopper's) weighs the new batch.
        // ONNX stores both as float32: read them as the decimal the exporter wrote (1e-5, not 9.99999974e-6).
        double momentum = Math.Round(1.0 - Decimal(a.Float("momentum", 0.9f)), 6);
        if (momentum is <= 0 or > 1) momentum = 0.1;
        ctx.Add(new BatchNorm2dOp(c, Decimal(a.Float("epsilon", 1e-5f)), momentum), [x],
            ("weight", ctx.FloatInput(1, "scale")), ("bias", ctx.FloatInput(2, "bias")),
            ("running_mean", ctx.FloatInput(3, "mean")), ("running_var", ctx.FloatInput(4, "variance")));
    }

    private static double Decimal(float f) => double.Parse(f.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);
}
