using Google.Protobuf;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Onnx;
using Lopper.Onnx.Export;
using Lopper.Onnx.Import;
using Lopper.Onnx.Proto;
using Lopper.Pruning;
using Lopper.Structure;
using static Lopper.Tests.Onnx.OnnxFixtures;

namespace Lopper.Tests.Onnx;

/// <summary>
/// torchvision's ConvNeXt at a tiny width (bench/onnx_fixtures.py, "convnext_small_net") and an Inception-v3 style
/// factorised 7x7 block ("inception_small"): imported, they give PyTorch's outputs; L1-pruned, compacted and exported,
/// ONNX Runtime gives Lopper's; a LayerNorm or GELU pattern with one constant changed fails naming its node.
/// </summary>
public class ConvNextImportTests
{
    private static Model Import(string name) => OnnxImporter.Import(OnnxFile.Load(File(name)), name, name).Model;

    [Theory]
    [InlineData("convnext_small_net")]
    [InlineData("inception_small")]
    public void ImportedFixtureGivesPyTorchOutputs(string name)
    {
        var model = Import(name);
        var y = Run(model, Input(name, model.Graph.InputShape));
        double err = MaxRelativeError(Output(name), y);
        Assert.True(err <= 1e-4, $"{name}: max relative error {err:E2} vs PyTorch");
    }

    [Fact]
    public void TheChannelsLastRegionBecomesChannelFirstLayers()
    {
        var g = Import("convnext_small_net").Graph;
        // One LayerNorm per block (three), the stem's, the downsampling's and the head's.
        Assert.Equal(3 + 1 + 1 + 1, g.Nodes.Count(n => n.Op is LayerNorm2dOp));
        Assert.Equal(3, g.Nodes.Count(n => n.Op is GeluOp));
        // Each block's two Linear layers are 1x1 convolutions with their biases folded in.
        Assert.Equal(6, g.Nodes.Count(n => n.Op is Conv2dOp { KernelH: 1, KernelW: 1, HasBias: true }));
        Assert.Equal(3, g.Nodes.Count(n => n.Op is ChannelMulOp));
        var inception = Import("inception_small").Graph;
        Assert.Contains(inception.Nodes, n => n.Op is Conv2dOp { KernelH: 1, KernelW: 7, PadH: 0, PadW: 3 });
        Assert.Contains(inception.Nodes, n => n.Op is Conv2dOp { KernelH: 7, KernelW: 1, PadH: 3, PadW: 0 });
    }

    [Theory]
    [InlineData("convnext_small_net")]
    [InlineData("inception_small")]
    public void PrunedCompactedAndExportedRunsTheSameInOnnxRuntime(string name)
    {
        var model = Import(name);
        var x = Input(name, model.Graph.InputShape);
        var groups = ChannelGroups.Analyze(model.Graph);
        var sel = ChannelPlanner.Plan(model.Graph, groups, ChannelImportance.L1(model, groups), new Budget(BudgetKind.Macs, 0.5));
        ChannelSurgery.Mask(model, groups, sel);
        var pruned = ChannelSurgery.Compact(model, groups, sel, name + "-pruned");
        Assert.True(pruned.Graph.Macs() < 0.6 * model.Graph.Macs(), $"{name}: kept {100.0 * pruned.Graph.Macs() / model.Graph.Macs():F0}% of the MACs");
        var y = Run(pruned, x);
        double err = MaxRelativeError(y, RunOrt(pruned, x));
        Assert.True(err <= 1e-4, $"{name} pruned: ORT vs Lopper {err:E2}");
        // The export reads back as the same layers.
        var back = OnnxImporter.Import(OnnxFile.Parse(OnnxExporter.Export(pruned).ToByteArray(), name), name, name).Model;
        Assert.Equal(pruned.Graph.Nodes.Count(n => n.Op is LayerNorm2dOp), back.Graph.Nodes.Count(n => n.Op is LayerNorm2dOp));
        Assert.Equal(pruned.Graph.Nodes.Count(n => n.Op is GeluOp), back.Graph.Nodes.Count(n => n.Op is GeluOp));
        Assert.True(MaxRelativeError(y, Run(back, x)) <= 1e-5);
    }

    [Theory]
    [InlineData("Pow", 3f, "Pow")]          // not a square
    [InlineData("Erf", 1.5f, "Div")]        // x / 1.5 is not GELU's x / sqrt 2
    [InlineData("Half", 0.6f, "Mul")]       // 0.6 * x * (1 + erf) is not GELU
    public void APatternWithAnotherConstantFailsNamingItsNode(string where, float value, string opType)
    {
        var m = OnnxFile.Load(File("convnext_small_net"));
        var nodes = m.Graph.Node;
        NodeProto target = where switch
        {
            "Pow" => nodes.First(n => n.OpType == "Pow"),
            "Erf" => nodes.First(n => n.OpType == "Div" && nodes.Any(e => e.OpType == "Erf" && e.Input[0] == n.Output[0])),
            _ => nodes.Last(n => n.OpType == "Mul" && nodes.Any(c => c.OpType == "Constant" && c.Output[0] == n.Input[1] && OnnxTensors.Float(c.Attribute[0].T, "v").Data[0] == 0.5f)),
        };
        var constant = nodes.Single(n => n.OpType == "Constant" && n.Output[0] == target.Input[1]);
        constant.Attribute[0].T = OnnxTensors.FromFloats(constant.Output[0], [], [value]);
        var ex = Assert.Throws<LopperInputException>(() => OnnxImporter.Import(OnnxFile.Parse(m.ToByteArray(), "edited"), "edited", "edited"));
        Assert.Contains(target.Name, ex.Message);
        Assert.Contains(opType, ex.Message);
    }
}
