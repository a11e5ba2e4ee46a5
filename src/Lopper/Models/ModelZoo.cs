using Lopper.Graph;
using Lopper.Tensors;

namespace Lopper.Models;

/// <summary>
/// The built-in architectures selectable with <c>--model</c>. Each definition matches its usual PyTorch
/// counterpart layer for layer, so parameter counts and MACs can be checked against published numbers
/// and weights can be mapped by name.
/// </summary>
/// <remarks>
/// Naming scheme: a node with parameters is named by its PyTorch module path, so its parameters read
/// exactly like a PyTorch state dict ("layer1.0.conv1.weight", "layer1.0.shortcut.0.weight",
/// "features.0.weight", "fc.bias"). Parameterless steps that PyTorch applies functionally or by
/// reusing one module (ReLU, the residual add, pooling, flatten) still need unique node names, so they
/// take their block's path plus a short descriptive suffix: within a block "relu1", "relu2", ... in
/// order of application and "add" for the residual sum; at top level "relu", "maxpool", "avgpool" and
/// "flatten". Sequential containers (VGG's "features", a shortcut or downsample) use positional indices
/// as nn.Sequential does, including for their parameterless members.
/// </remarks>
public static class ModelZoo
{
    private static readonly (string Name, Func<int[], int, ModelGraph> Build)[] Entries =
    [
        ("lenet5", LeNet5.Create),
        ("vgg-small", (s, c) => Vgg.Create("vgg-small", Vgg.SmallConfig, s, c)),
        ("vgg11", (s, c) => Vgg.Create("vgg11", Vgg.Vgg11Config, s, c)),
        ("vgg16", (s, c) => Vgg.Create("vgg16", Vgg.Vgg16Config, s, c)),
        ("resnet20", (s, c) => ResNetCifar.Create(20, s, c)),
        ("resnet32", (s, c) => ResNetCifar.Create(32, s, c)),
        ("resnet56", (s, c) => ResNetCifar.Create(56, s, c)),
        ("resnet110", (s, c) => ResNetCifar.Create(110, s, c)),
        ("resnet18", (s, c) => ResNetImageNet.Create("resnet18", s, c)),
        ("resnet50", (s, c) => ResNetImageNet.Create("resnet50", s, c)),
        ("mobilenetv2", (s, c) => MobileNetV2.Create(s, c)),
        ("mobilenetv3-small", MobileNetV3Small.Create),
        ("shufflenetv2-0.5", ShuffleNetV2.Create),
        ("densenet40", (s, c) => DenseNet.Create(s, c)),
        ("efficientnet-b0", EfficientNetB0.Create),
    ];

    /// <summary>Every name <see cref="Create"/> accepts, in a stable order suitable for help text.</summary>
    public static IReadOnlyList<string> Names { get; } = Entries.Select(e => e.Name).ToArray();

    /// <summary>
    /// Builds the graph of a zoo model for per-sample input <paramref name="inputShape"/> (C, H, W) and
    /// <paramref name="classes"/> outputs. Names are matched case-insensitively.
    /// </summary>
    /// <exception cref="LopperInputException">
    /// The name is unknown, the shape or class count is invalid, or the input is too small for the
    /// network's downsampling; the message is one line fit for the command line.
    /// </exception>
    public static ModelGraph Create(string name, int[] inputShape, int classes)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(inputShape);
        foreach (var (entryName, build) in Entries)
        {
            if (!string.Equals(entryName, name, StringComparison.OrdinalIgnoreCase)) continue;
            if (inputShape.Length != 3 || inputShape.Any(d => d < 1))
                throw new LopperInputException($"model '{entryName}': input shape must be three positive sizes C,H,W, got {Tensor.Format(inputShape)}");
            if (classes < 1)
                throw new LopperInputException($"model '{entryName}': classes must be at least 1, got {classes}");
            try
            {
                // Copy so later changes to the caller's array cannot alter the graph's input node.
                return build((int[])inputShape.Clone(), classes);
            }
            catch (LopperInputException e)
            {
                // Shape errors from deep inside the stack mean nothing without the model and input size.
                throw new LopperInputException($"model '{entryName}' cannot take input {Tensor.Format(inputShape)}: {e.Message}", e);
            }
        }
        throw new LopperInputException($"unknown model '{name}' (known: {string.Join(", ", Names)})");
    }
}
