using Lopper.Graph;

namespace Lopper.Models;

/// <summary>
/// EfficientNet-B0 (Tan and Le 2019): MBConv blocks with squeeze-and-excitation (sigmoid gate, squeeze
/// width a quarter of the block's input) and SiLU. CIFAR-sized variant: the stem and the second stage keep
/// stride 1. Stochastic depth is left out (it is a training regulariser, not structure). Mirrors
/// bench/zoo_reference.py's EfficientNetB0.
/// </summary>
internal static class EfficientNetB0
{
    // (expansion, kernel, stride, channels, repeats): the paper's table 1.
    private static readonly (int E, int K, int S, int C, int N)[] Settings =
        [(1, 3, 1, 16, 1), (6, 3, 1, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)];

    public static ModelGraph Create(int[] inputShape, int classes)
    {
        var b = new GraphBuilder(inputShape);
        var x = MobileBlocks.ConvBn(b, "features.0", b.Input, 32, 3, act: Act.Silu);
        int f = 1;
        foreach (var (e, k, s, output, n) in Settings)
            for (int i = 0; i < n; i++)
                x = MbConv(b, $"features.{f++}", x, output, k, i == 0 ? s : 1, e);
        x = MobileBlocks.ConvBn(b, $"features.{f}", x, 1280, 1, act: Act.Silu);
        x = MobileBlocks.Pool(b, x);
        x = b.Dropout("classifier.0", x, 0.2);
        b.Linear("classifier.1", x, classes);
        return b.Build("efficientnet-b0");
    }

    private static string MbConv(GraphBuilder b, string p, string x, int output, int kernel, int stride, int expand)
    {
        int cin = b.ChannelsOf(x), hidden = cin * expand, i = 0;
        var y = x;
        if (expand != 1) y = MobileBlocks.ConvBn(b, $"{p}.block.{i++}", y, hidden, 1, act: Act.Silu);
        y = MobileBlocks.ConvBn(b, $"{p}.block.{i++}", y, hidden, kernel, stride, groups: hidden, act: Act.Silu);
        y = MobileBlocks.SqueezeExcite(b, $"{p}.block.{i++}", y, Math.Max(1, cin / 4), Act.Silu, hardGate: false);
        y = MobileBlocks.ConvBn(b, $"{p}.block.{i}", y, output, 1, act: Act.None);
        return stride == 1 && cin == output ? b.Sum($"{p}.add", x, y) : y;
    }
}
