using Lopper.Graph;
using Lopper.Graph.Ops;

namespace Lopper.Models;

/// <summary>The activations the mobile architectures use after a convolution.</summary>
internal enum Act { None, Relu, Relu6, HardSwish, Silu }

/// <summary>
/// Building blocks shared by the mobile zoo models (MobileNetV2/V3, EfficientNet): conv + batch-norm +
/// activation as one nn.Sequential, and squeeze-and-excitation. Names follow the PyTorch module paths of
/// bench/zoo_reference.py, so a state dict maps onto the graph by name.
/// </summary>
internal static class MobileBlocks
{
    /// <summary>Channel rounding of the MobileNet reference code: the nearest multiple of 8, never below 90% of <paramref name="v"/>.</summary>
    public static int Divisible(double v, int divisor = 8)
    {
        int n = Math.Max(divisor, (int)(v + divisor / 2.0) / divisor * divisor);
        return n < 0.9 * v ? n + divisor : n;
    }

    /// <summary>An activation node (or <paramref name="x"/> itself for <see cref="Act.None"/>).</summary>
    public static string Activation(GraphBuilder b, string name, string x, Act act) => act switch
    {
        Act.None => x,
        Act.Relu => b.Relu(name, x),
        Act.Relu6 => b.Add(name, new ClipOp(0, 6), x),
        Act.HardSwish => b.Add(name, new HardSwishOp(), x),
        _ => b.Add(name, new SiluOp(), x),
    };

    /// <summary>
    /// nn.Sequential(conv (same padding, no bias), batch-norm[, activation]) at path <paramref name="p"/>:
    /// nodes p.0, p.1 and p.2. <paramref name="groups"/> equal to the input channels makes it depthwise.
    /// </summary>
    public static string ConvBn(GraphBuilder b, string p, string x, int outChannels, int kernel, int stride = 1, int groups = 1, Act act = Act.Relu6)
    {
        var y = b.Conv($"{p}.0", x, outChannels, kernel, stride, (kernel - 1) / 2, groups: groups);
        y = b.BatchNorm($"{p}.1", y);
        return Activation(b, $"{p}.2", y, act);
    }

    /// <summary>
    /// Squeeze-and-excitation at path <paramref name="p"/>: global average pool, 1x1 conv to
    /// <paramref name="squeeze"/> channels (fc1, with bias), activation, 1x1 conv back (fc2), gate, and the
    /// per-channel product with <paramref name="x"/>.
    /// </summary>
    public static string SqueezeExcite(GraphBuilder b, string p, string x, int squeeze, Act act, bool hardGate)
    {
        int c = b.ChannelsOf(x);
        var s = b.GlobalAvgPool($"{p}.pool", x);
        s = b.Conv($"{p}.fc1", s, squeeze, 1, bias: true);
        s = Activation(b, $"{p}.act", s, act);
        s = b.Conv($"{p}.fc2", s, c, 1, bias: true);
        s = hardGate ? b.Add($"{p}.gate", new HardSigmoidOp(), s) : b.Add($"{p}.gate", new SigmoidOp(), s);
        return b.Mul($"{p}.mul", x, s);
    }

    /// <summary>Global average pooling, flatten, and the classifier head's name prefix handled by the caller.</summary>
    public static string Pool(GraphBuilder b, string x)
    {
        x = b.GlobalAvgPool("avgpool", x);
        return b.Flatten("flatten", x);
    }
}
