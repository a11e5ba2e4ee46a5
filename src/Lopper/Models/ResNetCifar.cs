using Lopper.Graph;

namespace Lopper.Models;

/// <summary>
/// The CIFAR ResNets of He et al. (2016), section 4.2: 6n+2 layers in three stages of 16, 32 and 64
/// channels. Where the shape changes the shortcut is a 1x1 projection with batch-norm (option B) rather
/// than the paper's zero padding, because a real convolution gives structured pruning something to
/// keep in step with the residual branch.
/// </summary>
internal static class ResNetCifar
{
    public static ModelGraph Create(int depth, int[] inputShape, int classes)
    {
        if ((depth - 2) % 6 != 0) throw new ArgumentException($"CIFAR ResNet depth must be 6n+2, got {depth}", nameof(depth));
        int blocks = (depth - 2) / 6;
        var b = new GraphBuilder(inputShape);
        var x = b.Conv("conv1", b.Input, 16, 3, padding: 1);
        x = b.BatchNorm("bn1", x);
        x = b.Relu("relu", x);
        int[] widths = [16, 32, 64];
        for (int stage = 0; stage < widths.Length; stage++)
            for (int i = 0; i < blocks; i++)
                x = BasicBlock(b, $"layer{stage + 1}.{i}", x, widths[stage], stage > 0 && i == 0 ? 2 : 1);
        x = b.GlobalAvgPool("avgpool", x);
        x = b.Flatten("flatten", x);
        b.Linear("linear", x, classes);
        return b.Build($"resnet{depth}");
    }

    /// <summary>
    /// Appends a CIFAR basic block (conv-bn-relu-conv-bn, plus a projection shortcut when the stride or the
    /// width changes) and returns its output. <paramref name="inner"/> sets the first conv's width (default
    /// <paramref name="width"/>), as a block looks after its inner channels were pruned.
    /// </summary>
    public static string BasicBlock(GraphBuilder b, string p, string x, int width, int stride, int? inner = null)
    {
        var y = b.Conv($"{p}.conv1", x, inner ?? width, 3, stride, padding: 1);
        y = b.BatchNorm($"{p}.bn1", y);
        y = b.Relu($"{p}.relu1", y);
        y = b.Conv($"{p}.conv2", y, width, 3, padding: 1);
        y = b.BatchNorm($"{p}.bn2", y);
        var shortcut = x;
        if (stride != 1 || b.ChannelsOf(x) != width)
        {
            shortcut = b.Conv($"{p}.shortcut.0", x, width, 1, stride);
            shortcut = b.BatchNorm($"{p}.shortcut.1", shortcut);
        }
        y = b.Sum($"{p}.add", y, shortcut);
        return b.Relu($"{p}.relu2", y);
    }
}
