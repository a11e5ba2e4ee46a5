using Lopper.Graph;

namespace Lopper.Models;

/// <summary>
/// DenseNet-BC (Huang et al. 2017) in its CIFAR form: a 3x3 stem of 2k channels, three dense blocks of
/// bottleneck layers (BN-ReLU-1x1 to 4k, BN-ReLU-3x3 to k, concatenated onto the block's input) joined by
/// transitions (BN-ReLU-1x1 halving the channels, 2x2 average pool). depth 40, k = 12: six layers per
/// block. Mirrors bench/zoo_reference.py's DenseNetBC.
/// </summary>
internal static class DenseNet
{
    public static ModelGraph Create(int[] inputShape, int classes, int depth = 40, int growth = 12)
    {
        if ((depth - 4) % 6 != 0) throw new ArgumentException($"DenseNet-BC depth must be 6n+4, got {depth}", nameof(depth));
        int layers = (depth - 4) / 6;
        var b = new GraphBuilder(inputShape);
        var x = b.Conv("conv0", b.Input, 2 * growth, 3, padding: 1);
        for (int blk = 1; blk <= 3; blk++)
        {
            for (int i = 0; i < layers; i++)
            {
                string p = $"block{blk}.{i}";
                var y = b.BatchNorm($"{p}.norm1", x);
                y = b.Relu($"{p}.relu1", y);
                y = b.Conv($"{p}.conv1", y, 4 * growth, 1);
                y = b.BatchNorm($"{p}.norm2", y);
                y = b.Relu($"{p}.relu2", y);
                y = b.Conv($"{p}.conv2", y, growth, 3, padding: 1);
                x = b.Concat($"{p}.cat", x, y);
            }
            if (blk == 3) break;
            string t = $"trans{blk}";
            var z = b.BatchNorm($"{t}.norm", x);
            z = b.Relu($"{t}.relu", z);
            z = b.Conv($"{t}.conv", z, b.ChannelsOf(x) / 2, 1);
            x = b.AvgPool($"{t}.pool", z, 2, 2);
        }
        x = b.BatchNorm("norm5", x);
        x = b.Relu("relu5", x);
        x = MobileBlocks.Pool(b, x);
        b.Linear("fc", x, classes);
        return b.Build($"densenet{depth}");
    }
}
