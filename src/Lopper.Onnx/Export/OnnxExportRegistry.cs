using Lopper.Onnx.Export.Ops;

namespace Lopper.Onnx.Export;

/// <summary>
/// Lopper op types Lopper exports, each mapped to the function that writes one node as ONNX nodes.
/// Exporting a new op is one entry here and one small file under Export/Ops.
/// </summary>
public static class OnnxExportRegistry
{
    private static readonly Dictionary<string, Action<ExportContext>> Exporters = new(StringComparer.Ordinal)
    {
        ["conv2d"] = ConvExport.Export,
        ["batchnorm2d"] = BatchNormExport.Export,
        ["relu"] = SimpleExport.Relu,
        ["maxpool2d"] = PoolExport.MaxPool,
        ["avgpool2d"] = PoolExport.AveragePool,
        ["globalavgpool"] = SimpleExport.GlobalAveragePool,
        ["add"] = SimpleExport.Add,
        ["flatten"] = SimpleExport.Flatten,
        ["linear"] = LinearExport.Export,
        ["dropout"] = SimpleExport.Dropout,
        ["channelmul"] = ScaleExport.ChannelMul,
        ["gate"] = ScaleExport.Gate,
        ["adaptiveavgpool"] = PoolExport.AdaptiveAveragePool,
        ["sigmoid"] = ActivationExport.Sigmoid,
        ["hardsigmoid"] = ActivationExport.HardSigmoid,
        ["hardswish"] = ActivationExport.HardSwish,
        ["silu"] = ActivationExport.Silu,
        ["clip"] = ActivationExport.Clip,
        ["softmax"] = ActivationExport.Softmax,
        ["concat"] = ChannelExport.Concat,
        ["mul"] = ChannelExport.Mul,
        ["channel_slice"] = ChannelExport.Slice,
        ["channel_shuffle"] = ChannelExport.Shuffle,
        ["layernorm2d"] = NormExport.LayerNorm,
        ["gelu"] = NormExport.Gelu,
    };

    /// <summary>Lopper op types with an exporter.</summary>
    public static IEnumerable<string> OpTypes => Exporters.Keys;

    /// <summary>Adds or replaces the exporter of a Lopper op type.</summary>
    public static void Register(string opType, Action<ExportContext> exporter) => Exporters[opType] = exporter;

    /// <summary>The exporter for <paramref name="opType"/>, or null.</summary>
    public static Action<ExportContext>? Find(string opType) => Exporters.GetValueOrDefault(opType);
}
