using Lopper.Graph;

namespace Lopper.Models;

/// <summary>
/// MobileNetV2 (Sandler et al. 2018): inverted residual blocks (1x1 expansion, 3x3 depthwise, linear 1x1
/// projection) with ReLU6, identity shortcuts where shape allows. CIFAR-sized variant: the stem and the
/// second stage keep stride 1, so a 32x32 input ends at 4x4 as 224 ends at 7x7. Mirrors
/// bench/zoo_reference.py's MobileNetV2 (parameter and MAC counts tested against it).
/// </summary>
internal static class MobileNetV2
{
    // (expansion, channels, repeats, stride): the paper's table 2, second stage at stride 1.
    private static readonly (int T, int C, int N, int S)[] Settings =
        [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

    public static ModelGraph Create(int[] inputShape, int classes, double width = 1.0)
    {
        var b = new GraphBuilder(inputShape);
        int c = MobileBlocks.Divisible(32 * width);
        int last = MobileBlocks.Divisible(1280 * Math.Max(1.0, width));
        var x = MobileBlocks.ConvBn(b, "features.0", b.Input, c, 3);
        int f = 1;
        foreach (var (t, ch, n, s) in Settings)
        {
            int output = MobileBlocks.Divisible(ch * width);
            for (int i = 0; i < n; i++)
            {
                x = InvertedResidual(b, $"features.{f++}", x, output, i == 0 ? s : 1, t);
                c = output;
            }
        }
        x = MobileBlocks.ConvBn(b, $"features.{f}", x, last, 1);
        x = MobileBlocks.Pool(b, x);
        x = b.Dropout("classifier.0", x, 0.2);
        b.Linear("classifier.1", x, classes);
        return b.Build(width == 1.0 ? "mobilenetv2" : $"mobilenetv2-{width}");
    }

    private static string InvertedResidual(GraphBuilder b, string p, string x, int output, int stride, int expand)
    {
        int cin = b.ChannelsOf(x), hidden = cin * expand, k = 0;
        var y = x;
        if (expand != 1) y = MobileBlocks.ConvBn(b, $"{p}.conv.{k++}", y, hidden, 1);
        y = MobileBlocks.ConvBn(b, $"{p}.conv.{k++}", y, hidden, 3, stride, groups: hidden);
        y = b.Conv($"{p}.conv.{k++}", y, output, 1);
        y = b.BatchNorm($"{p}.conv.{k}", y);
        return stride == 1 && cin == output ? b.Sum($"{p}.add", x, y) : y;
    }
}
