using Lopper.Graph;

namespace Lopper.Models;

/// <summary>
/// MobileNetV3-small (Howard et al. 2019): depthwise bottlenecks with squeeze-and-excitation (hard-sigmoid
/// gate) and hard-swish. CIFAR-sized variant: the stem and the first block keep stride 1. Mirrors
/// bench/zoo_reference.py's MobileNetV3Small.
/// </summary>
internal static class MobileNetV3Small
{
    // (kernel, expansion width, output, squeeze-excite, hard-swish, stride): the paper's table 2.
    private static readonly (int K, int Exp, int Out, bool Se, bool Hs, int S)[] Settings =
    [
        (3, 16, 16, true, false, 1), (3, 72, 24, false, false, 2), (3, 88, 24, false, false, 1),
        (5, 96, 40, true, true, 2), (5, 240, 40, true, true, 1), (5, 240, 40, true, true, 1),
        (5, 120, 48, true, true, 1), (5, 144, 48, true, true, 1), (5, 288, 96, true, true, 2),
        (5, 576, 96, true, true, 1), (5, 576, 96, true, true, 1),
    ];

    public static ModelGraph Create(int[] inputShape, int classes)
    {
        var b = new GraphBuilder(inputShape);
        var x = MobileBlocks.ConvBn(b, "features.0", b.Input, 16, 3, act: Act.HardSwish);
        int f = 1;
        foreach (var (k, exp, output, se, hs, s) in Settings)
            x = Bneck(b, $"features.{f++}", x, k, exp, output, se, hs ? Act.HardSwish : Act.Relu, s);
        x = MobileBlocks.ConvBn(b, $"features.{f}", x, 576, 1, act: Act.HardSwish);
        x = MobileBlocks.Pool(b, x);
        x = b.Linear("classifier.0", x, 1024);
        x = MobileBlocks.Activation(b, "classifier.1", x, Act.HardSwish);
        x = b.Dropout("classifier.2", x, 0.2);
        b.Linear("classifier.3", x, classes);
        return b.Build("mobilenetv3-small");
    }

    private static string Bneck(GraphBuilder b, string p, string x, int kernel, int exp, int output, bool se, Act act, int stride)
    {
        int cin = b.ChannelsOf(x), i = 0;
        var y = x;
        if (exp != cin) y = MobileBlocks.ConvBn(b, $"{p}.block.{i++}", y, exp, 1, act: act);
        y = MobileBlocks.ConvBn(b, $"{p}.block.{i++}", y, exp, kernel, stride, groups: exp, act: act);
        if (se) y = MobileBlocks.SqueezeExcite(b, $"{p}.block.{i++}", y, MobileBlocks.Divisible(exp / 4), Act.Relu, hardGate: true);
        y = MobileBlocks.ConvBn(b, $"{p}.block.{i}", y, output, 1, act: Act.None);
        return stride == 1 && cin == output ? b.Sum($"{p}.add", x, y) : y;
    }
}
