using Lopper.Graph;

namespace Lopper.Models;

/// <summary>
/// ShuffleNetV2 x0.5 (Ma et al. 2018): units that split the channels in two, transform one half (1x1,
/// 3x3 depthwise, 1x1), concatenate and shuffle; downsampling units transform both halves. CIFAR-sized
/// variant: stem at stride 1 and no max-pool. Mirrors bench/zoo_reference.py's ShuffleNetV2.
/// </summary>
internal static class ShuffleNetV2
{
    private static readonly int[] Stages = [48, 96, 192];
    private static readonly int[] Repeats = [4, 8, 4];

    public static ModelGraph Create(int[] inputShape, int classes)
    {
        var b = new GraphBuilder(inputShape);
        var x = b.Conv("conv1.0", b.Input, 24, 3, padding: 1);
        x = b.BatchNorm("conv1.1", x);
        x = b.Relu("conv1.2", x);
        for (int s = 0; s < Stages.Length; s++)
            for (int i = 0; i < Repeats[s]; i++)
                x = Unit(b, $"stage{s + 2}.{i}", x, Stages[s], i == 0 ? 2 : 1);
        x = b.Conv("conv5.0", x, 1024, 1);
        x = b.BatchNorm("conv5.1", x);
        x = b.Relu("conv5.2", x);
        x = MobileBlocks.Pool(b, x);
        b.Linear("fc", x, classes);
        return b.Build("shufflenetv2-0.5");
    }

    private static string Unit(GraphBuilder b, string p, string x, int output, int stride)
    {
        int cin = b.ChannelsOf(x), branch = output / 2;
        string left, right;
        if (stride > 1)
        {
            left = b.Conv($"{p}.branch1.0", x, cin, 3, stride, 1, groups: cin);
            left = b.BatchNorm($"{p}.branch1.1", left);
            left = b.Conv($"{p}.branch1.2", left, branch, 1);
            left = b.BatchNorm($"{p}.branch1.3", left);
            left = b.Relu($"{p}.branch1.4", left);
            right = x;
        }
        else
        {
            left = b.ChannelSlice($"{p}.split0", x, 0, cin / 2);
            right = b.ChannelSlice($"{p}.split1", x, cin / 2, cin - cin / 2);
        }
        var y = b.Conv($"{p}.branch2.0", right, branch, 1);
        y = b.BatchNorm($"{p}.branch2.1", y);
        y = b.Relu($"{p}.branch2.2", y);
        y = b.Conv($"{p}.branch2.3", y, branch, 3, stride, 1, groups: branch);
        y = b.BatchNorm($"{p}.branch2.4", y);
        y = b.Conv($"{p}.branch2.5", y, branch, 1);
        y = b.BatchNorm($"{p}.branch2.6", y);
        y = b.Relu($"{p}.branch2.7", y);
        var cat = b.Concat($"{p}.cat", left, y);
        return b.Shuffle($"{p}.shuffle", cat, 2);
    }
}
