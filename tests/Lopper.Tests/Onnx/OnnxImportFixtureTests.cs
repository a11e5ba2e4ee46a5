using Lopper.Graph.Ops;
using Lopper.Onnx;
using Lopper.Onnx.Import;
using static Lopper.Tests.Onnx.OnnxFixtures;

namespace Lopper.Tests.Onnx;

/// <summary>Files written by torch.onnx.export (bench/onnx_fixtures.py): imported, they give PyTorch's recorded outputs.</summary>
public class OnnxImportFixtureTests
{
    [Theory]
    [InlineData("resnet_small", 3, 32, 32)]   // opset 11; BN folded into Conv by the exporter; max pool with padding; residual Add
    [InlineData("vgg_small", 1, 28, 28)]      // opset 16; BatchNormalization nodes; x.view(x.size(0), -1) as Shape-Gather-Unsqueeze-Concat-Reshape
    [InlineData("alexnet_small", 3, 32, 32)]  // opset 13; Dropout; ZeroPad2d as a Pad with a computed pads chain; AveragePool; MatMul + Add
    public void ImportedFixtureGivesPyTorchOutputs(string name, int c, int h, int w)
    {
        var r = OnnxImporter.Import(OnnxFile.Load(File(name)), name, name);
        Assert.Equal([c, h, w], r.Model.Graph.InputShape);
        Assert.Equal(10, r.Model.Graph.Classes);
        var y = Run(r.Model, Input(name, [c, h, w]));
        double err = MaxRelativeError(Output(name), y);
        Assert.True(err <= 1e-4, $"{name}: max relative error {err:E2} vs PyTorch");
    }

    [Fact]
    public void PatternsFoldIntoTheLayersTheyBelongTo()
    {
        var alex = OnnxImporter.Import(OnnxFile.Load(File("alexnet_small")), "a", "a").Model.Graph;
        // The ZeroPad2d(1) before a 3x3 convolution without padding becomes that convolution's padding.
        Assert.Contains(alex.Nodes, n => n.Op is Conv2dOp { Kernel: 3, Padding: 1, InChannels: 16, OutChannels: 24 });
        // MatMul + Add is one linear layer with a bias; dropout is gone.
        Assert.Contains(alex.Nodes, n => n.Op is LinearOp { HasBias: true, InFeatures: 48, OutFeatures: 10 });
        Assert.DoesNotContain(alex.Nodes, n => n.Op is DropoutOp);
        var vgg = OnnxImporter.Import(OnnxFile.Load(File("vgg_small")), "v", "v").Model.Graph;
        Assert.Single(vgg.Nodes, n => n.Op is FlattenOp);
        Assert.Equal(4, vgg.Nodes.Count(n => n.Op is BatchNorm2dOp));
        // Layers with weights are named like PyTorch's modules, so parameter names read like its state dict.
        Assert.NotNull(vgg.IndexOf("classifier.0") >= 0 ? vgg["classifier.0"] : null);
    }

    [Theory]
    [InlineData("mobilenet_v2_x035")]       // opset 13; depthwise Conv (group = channels); ReLU6 as Clip with min/max inputs
    [InlineData("mobilenet_v3_small_x05")]  // opset 13; squeeze-excite (HardSigmoid gate times the map); hard-swish as x * HardSigmoid(x)
    [InlineData("shufflenet_v2_x05")]       // opset 13; Split along the channels; channel shuffle as Reshape-Transpose-Reshape; grouped Conv
    [InlineData("squeezenet1_1")]           // Concat of the fire modules' expand branches; MaxPool with ceil_mode
    [InlineData("densenet_block")]          // dense Concat
    [InlineData("googlenet_small")]         // inception Concat; MaxPool with ceil_mode and padding
    public void ModernFixtureGivesPyTorchOutputs(string name)
    {
        var r = OnnxImporter.Import(OnnxFile.Load(File(name)), name, name);
        Assert.Equal(10, r.Model.Graph.Classes);
        var y = Run(r.Model, Input(name, r.Model.Graph.InputShape));
        double err = MaxRelativeError(Output(name), y);
        Assert.True(err <= 1e-4, $"{name}: max relative error {err:E2} vs PyTorch");
    }

    [Fact]
    public void ModernPatternsBecomeTheirLopperOps()
    {
        var v3 = OnnxImporter.Import(OnnxFile.Load(File("mobilenet_v3_small_x05")), "m", "m").Model.Graph;
        Assert.Contains(v3.Nodes, n => n.Op is HardSwishOp);
        Assert.Contains(v3.Nodes, n => n.Op is MulOp);
        Assert.Contains(v3.Nodes, n => n.Op is Conv2dOp { IsDepthwise: true });
        var shuffle = OnnxImporter.Import(OnnxFile.Load(File("shufflenet_v2_x05")), "s", "s").Model.Graph;
        Assert.Contains(shuffle.Nodes, n => n.Op is ChannelShuffleOp { Groups: 2 });
        Assert.Contains(shuffle.Nodes, n => n.Op is ChannelSliceOp);
        var v2 = OnnxImporter.Import(OnnxFile.Load(File("mobilenet_v2_x035")), "v", "v").Model.Graph;
        Assert.Contains(v2.Nodes, n => n.Op is ClipOp { Min: 0, Max: 6 });
    }
}
