using System.Text.Json.Nodes;
using Lopper.Graph.Ops;

namespace Lopper.Graph;

/// <summary>Maps op type names in model.json to the classes that implement them.</summary>
public static class OpRegistry
{
    private static readonly Dictionary<string, Func<JsonObject, Op>> Factories = new()
    {
        ["input"] = InputOp.FromJson,
        ["conv2d"] = Conv2dOp.FromJson,
        ["linear"] = LinearOp.FromJson,
        ["batchnorm2d"] = BatchNorm2dOp.FromJson,
        ["relu"] = a => { OpAttributes.None(a, "relu"); return new ReluOp(); },
        ["maxpool2d"] = MaxPool2dOp.FromJson,
        ["avgpool2d"] = AvgPool2dOp.FromJson,
        ["globalavgpool"] = a => { OpAttributes.None(a, "globalavgpool"); return new GlobalAvgPoolOp(); },
        ["add"] = AddOp.FromJson,
        ["flatten"] = a => { OpAttributes.None(a, "flatten"); return new FlattenOp(); },
        ["dropout"] = DropoutOp.FromJson,
        ["channelmul"] = ChannelMulOp.FromJson,
        ["gate"] = GateOp.FromJson,
        ["concat"] = ConcatOp.FromJson,
        ["mul"] = MulOp.FromJson,
        ["channel_shuffle"] = ChannelShuffleOp.FromJson,
        ["channel_slice"] = ChannelSliceOp.FromJson,
        ["sigmoid"] = SigmoidOp.FromJson,
        ["hardsigmoid"] = HardSigmoidOp.FromJson,
        ["hardswish"] = HardSwishOp.FromJson,
        ["silu"] = SiluOp.FromJson,
        ["clip"] = ClipOp.FromJson,
        ["softmax"] = SoftmaxOp.FromJson,
        ["adaptiveavgpool"] = AdaptiveAvgPoolOp.FromJson,
        ["gelu"] = GeluOp.FromJson,
        ["layernorm2d"] = LayerNorm2dOp.FromJson,
    };

    /// <summary>Known op type names.</summary>
    public static IEnumerable<string> Types => Factories.Keys;

    /// <summary>Registers an op type (for ops defined outside the library).</summary>
    public static void Register(string type, Func<JsonObject, Op> factory) => Factories[type] = factory;

    /// <summary>Creates an op from its type name and attributes; unknown types fail naming the type.</summary>
    public static Op Create(string type, JsonObject attributes)
    {
        if (!Factories.TryGetValue(type, out var f))
            throw new LopperInputException($"unknown op '{type}' (known: {string.Join(", ", Factories.Keys)})");
        return f(attributes);
    }
}
