using Lopper.Graph;

namespace Lopper.Models;

/// <summary>
/// VGG with batch-norm in the CIFAR form: the convolution stack ends in global average pooling and a
/// single linear layer rather than torchvision's three large fully connected layers, so any input size
/// works and the parameter count stays dominated by convolutions (which is what pruning targets).
/// </summary>
internal static class Vgg
{
    /// <summary>0 stands for a 2x2 max pool ("M" in the usual configuration lists).</summary>
    private const int M = 0;

    public static readonly int[] SmallConfig = [64, 64, M, 128, 128, M, 256, 256, M];
    public static readonly int[] Vgg11Config = [64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M];
    public static readonly int[] Vgg16Config = [64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M];

    public static ModelGraph Create(string name, int[] config, int[] inputShape, int classes)
    {
        var b = new GraphBuilder(inputShape);
        var x = b.Input;
        // Indices advance exactly as they would in an nn.Sequential so names line up with PyTorch's.
        int i = 0;
        foreach (int width in config)
        {
            if (width == M)
            {
                x = b.MaxPool($"features.{i++}", x, 2, 2);
                continue;
            }
            x = b.Conv($"features.{i++}", x, width, 3, padding: 1);
            x = b.BatchNorm($"features.{i++}", x);
            x = b.Relu($"features.{i++}", x);
        }
        x = b.GlobalAvgPool("avgpool", x);
        x = b.Flatten("flatten", x);
        b.Linear("classifier", x, classes);
        return b.Build(name);
    }
}
