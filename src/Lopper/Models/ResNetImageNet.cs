using Lopper.Graph;

namespace Lopper.Models;

/// <summary>
/// torchvision's ImageNet ResNets (v1.5: in a bottleneck the stride sits on the 3x3 convolution, not
/// the first 1x1), so parameter names and counts match <c>torchvision.models.resnet18/50</c>.
/// </summary>
internal static class ResNetImageNet
{
    public static ModelGraph Create(string name, int[] inputShape, int classes)
    {
        var (bottleneck, layers) = name switch
        {
            "resnet18" => (false, new[] { 2, 2, 2, 2 }),
            "resnet50" => (true, new[] { 3, 4, 6, 3 }),
            _ => throw new ArgumentException($"no ImageNet ResNet called '{name}'", nameof(name)),
        };
        int expansion = bottleneck ? 4 : 1;
        var b = new GraphBuilder(inputShape);
        var x = b.Conv("conv1", b.Input, 64, 7, 2, 3);
        x = b.BatchNorm("bn1", x);
        x = b.Relu("relu", x);
        x = b.MaxPool("maxpool", x, 3, 2, 1);
        for (int stage = 0; stage < layers.Length; stage++)
        {
            int planes = 64 << stage;
            for (int i = 0; i < layers[stage]; i++)
            {
                string p = $"layer{stage + 1}.{i}";
                int stride = stage > 0 && i == 0 ? 2 : 1;
                x = bottleneck ? Bottleneck(b, p, x, planes, stride, expansion) : BasicBlock(b, p, x, planes, stride);
            }
        }
        x = b.GlobalAvgPool("avgpool", x);
        x = b.Flatten("flatten", x);
        b.Linear("fc", x, classes);
        return b.Build(name);
    }

    private static string Downsample(GraphBuilder b, string p, string x, int outChannels, int stride)
    {
        if (stride == 1 && b.ChannelsOf(x) == outChannels) return x;
        var s = b.Conv($"{p}.downsample.0", x, outChannels, 1, stride);
        return b.BatchNorm($"{p}.downsample.1", s);
    }

    private static string BasicBlock(GraphBuilder b, string p, string x, int planes, int stride)
    {
        var y = b.Conv($"{p}.conv1", x, planes, 3, stride, 1);
        y = b.BatchNorm($"{p}.bn1", y);
        y = b.Relu($"{p}.relu1", y);
        y = b.Conv($"{p}.conv2", y, planes, 3, 1, 1);
        y = b.BatchNorm($"{p}.bn2", y);
        y = b.Sum($"{p}.add", y, Downsample(b, p, x, planes, stride));
        return b.Relu($"{p}.relu2", y);
    }

    private static string Bottleneck(GraphBuilder b, string p, string x, int planes, int stride, int expansion)
    {
        var y = b.Conv($"{p}.conv1", x, planes, 1);
        y = b.BatchNorm($"{p}.bn1", y);
        y = b.Relu($"{p}.relu1", y);
        y = b.Conv($"{p}.conv2", y, planes, 3, stride, 1);
        y = b.BatchNorm($"{p}.bn2", y);
        y = b.Relu($"{p}.relu2", y);
        y = b.Conv($"{p}.conv3", y, planes * expansion, 1);
        y = b.BatchNorm($"{p}.bn3", y);
        y = b.Sum($"{p}.add", y, Downsample(b, p, x, planes * expansion, stride));
        return b.Relu($"{p}.relu3", y);
    }
}
