using Google.Protobuf;
using Lopper.Graph.Ops;
using Lopper.Onnx;
using Lopper.Onnx.Export;
using Lopper.Onnx.Import;
using Lopper.Onnx.Proto;
using Lopper.Onnx.Runtime;
using Lopper.Tensors;
using static Lopper.Tests.Onnx.OnnxFixtures;

namespace Lopper.Tests.Onnx;

/// <summary>
/// Small hand-written ONNX graphs for the patterns exporters emit that the fixtures do not all cover (asymmetric
/// pads, Split by attribute or input, ReduceMean, Clip by attribute, self-gated Mul, dilated depthwise Conv,
/// channel Slice, Softmax): imported, each gives ONNX Runtime's output for the same file; what Lopper cannot
/// represent fails with one line naming the node.
/// </summary>
public class OnnxPatternImportTests
{
    private const int C = 4;

    private sealed class G(long opset, int h = 8)
    {
        public readonly GraphProto Graph = new() { Name = "g" };
        public readonly long Opset = opset;
        public readonly int H = h;
        private readonly Rng _rng = new(11);

        public string Node(string op, string[] inputs, params AttributeProto[] attrs)
        {
            string name = $"/{op}_{Graph.Node.Count}";
            var n = new NodeProto { OpType = op, Name = name };
            n.Input.AddRange(inputs);
            n.Output.Add(name);
            n.Attribute.AddRange(attrs);
            Graph.Node.Add(n);
            return name;
        }

        public string[] Outputs(string op, string[] inputs, int outputs, params AttributeProto[] attrs)
        {
            string name = $"/{op}_{Graph.Node.Count}";
            var n = new NodeProto { OpType = op, Name = name };
            n.Input.AddRange(inputs);
            for (int i = 0; i < outputs; i++) n.Output.Add($"{name}:{i}");
            n.Attribute.AddRange(attrs);
            Graph.Node.Add(n);
            return n.Output.ToArray();
        }

        public string Weight(string name, params long[] dims)
        {
            long n = dims.Aggregate(1L, (a, b) => a * b);
            var v = new float[n];
            for (int i = 0; i < n; i++) v[i] = (float)_rng.NextNormal() * 0.5f;
            Graph.Initializer.Add(OnnxTensors.FromFloats(name, dims, v));
            return name;
        }

        public string Scalar(string name, float v)
        {
            Graph.Initializer.Add(OnnxTensors.FromFloats(name, [], [v]));
            return name;
        }

        public string Ints(string name, params long[] v)
        {
            Graph.Initializer.Add(OnnxTensors.FromInt64(name, v));
            return name;
        }

        public string Conv(string x, int cin, int cout, int k, params AttributeProto[] attrs)
        {
            long group = attrs.FirstOrDefault(a => a.Name == "group")?.I ?? 1;
            return Node("Conv", [x, Weight($"conv{Graph.Node.Count}.weight", cout, cin / group, k, k), Weight($"conv{Graph.Node.Count}.bias", cout)], attrs);
        }

        // The graph's end: global pooling, flatten, logits.
        public byte[] Finish(string x, bool pooled = false)
        {
            if (!pooled) Node("Flatten", [Node("GlobalAveragePool", [x])], ExportContext.Int("axis", 1));
            Graph.Node[^1].Output[0] = "logits";
            Graph.Input.Add(Value("input", [C, H, H]));
            Graph.Output.Add(Value("logits", []));
            var m = new ModelProto { IrVersion = 7, Graph = Graph };
            m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
            return m.ToByteArray();
        }

        private static ValueInfoProto Value(string name, int[] dims)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
            foreach (int d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            if (dims.Length == 0) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "classes" });
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
        }
    }

    // Lopper's import of the file against ONNX Runtime running the file itself.
    private static Lopper.Graph.Model AssertMatchesOrt(byte[] bytes, int h = 8)
    {
        var model = OnnxImporter.Import(OnnxFile.Parse(bytes, "t"), "t", "t").Model;
        var x = new Tensor(2, C, h, h);
        var rng = new Rng(5);
        for (int i = 0; i < x.Length; i++) x.Data[i] = (float)rng.NextNormal();
        float[] ort;
        using (var s = new OrtModel(bytes, 1)) ort = s.Run(x);
        double err = MaxRelativeError(ort, Run(model, x));
        Assert.True(err <= 1e-4, $"Lopper vs ONNX Runtime on the same file: {err:E2}");
        return model;
    }

    private static LopperInputException Fails(byte[] bytes) => Assert.Throws<LopperInputException>(() => OnnxImporter.Import(OnnxFile.Parse(bytes, "t"), "t", "t"));

    [Fact]
    public void AsymmetricPadsFoldWhenTheExtraRowIsNeverRead()
    {
        // 7x7, 3x3 stride 2: pads [1,1,2,2] give the same 4x4 windows as pads 1 all round.
        var g = new G(13, 7);
        var y = g.Conv("input", C, 6, 3, ExportContext.Ints("pads", 1, 1, 2, 2), ExportContext.Ints("strides", 2, 2));
        var m = AssertMatchesOrt(g.Finish(y), 7);
        Assert.Contains(m.Graph.Nodes, n => n.Op is Conv2dOp { Padding: 1, Stride: 2 });
        // On 8x8 the extra bottom row adds an output row: no symmetric padding computes it.
        g = new G(13);
        y = g.Conv("input", C, 6, 3, ExportContext.Ints("pads", 0, 0, 1, 1), ExportContext.Ints("strides", 2, 2));
        var e = Fails(g.Finish(y));
        Assert.Contains("cannot be folded", e.Message);
        Assert.Contains("node '/Conv_0'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(13)]
    public void SplitOnChannelsBecomesSlicesAndConcatJoinsThem(long opset)
    {
        var g = new G(opset);
        string[] parts = opset >= 13
            ? g.Outputs("Split", ["input", g.Ints("sizes", 1, 3)], 2, ExportContext.Int("axis", 1))
            : g.Outputs("Split", ["input"], 2, ExportContext.Int("axis", 1), ExportContext.Ints("split", 1, 3));
        var right = g.Node("Relu", [g.Conv(parts[1], 3, 3, 3, ExportContext.Ints("pads", 1, 1, 1, 1))]);
        var cat = g.Node("Concat", [right, parts[0]], ExportContext.Int("axis", 1));
        var m = AssertMatchesOrt(g.Finish(cat));
        Assert.Equal(2, m.Graph.Nodes.Count(n => n.Op is ChannelSliceOp));
        Assert.Single(m.Graph.Nodes, n => n.Op is ConcatOp);
    }

    [Fact]
    public void ConcatOfOneTensorIsTheIdentity()
    {
        // torchvision's DenseNet writes torch.cat([x], 1) in the first layer of every block.
        var g = new G(13);
        var x = g.Node("Concat", [g.Conv("input", C, 6, 1)], ExportContext.Int("axis", 1));
        var m = AssertMatchesOrt(g.Finish(g.Node("Relu", [x])));
        Assert.DoesNotContain(m.Graph.Nodes, n => n.Op is ConcatOp);
    }

    [Fact]
    public void ZeroPadBeforeAveragePoolCountsThePadding()
    {
        // Inception's avg_pool2d(3, 1, 1) as torch 1.13 writes it: Pad then AveragePool without pads.
        var g = new G(13);
        var x = g.Node("Pad", [g.Conv("input", C, 6, 1), g.Ints("pads", 0, 0, 1, 1, 0, 0, 1, 1)]);
        x = g.Node("AveragePool", [x], ExportContext.Ints("kernel_shape", 3, 3), ExportContext.Ints("strides", 1, 1));
        var m = AssertMatchesOrt(g.Finish(x));
        Assert.Contains(m.Graph.Nodes, n => n.Op is AvgPool2dOp { Padding: 1, CountIncludePad: true });
    }

    [Fact]
    public void ChannelSliceSqueezeExciteSiluAndDilatedDepthwiseConv()
    {
        var g = new G(13);
        // x * Sigmoid(x) (SiLU), a dilated depthwise conv, an SE gate written gate-first, a Slice of channels [1, end).
        var x = g.Conv("input", C, 8, 1);
        x = g.Node("Mul", [x, g.Node("Sigmoid", [x])]);
        x = g.Conv(x, 8, 8, 3, ExportContext.Int("group", 8), ExportContext.Ints("dilations", 2, 2), ExportContext.Ints("pads", 2, 2, 2, 2));
        var s = g.Node("ReduceMean", [x], ExportContext.Ints("axes", 2, 3), ExportContext.Int("keepdims", 1));
        s = g.Node("HardSigmoid", [g.Conv(s, 8, 8, 1)], ExportContext.Float("alpha", 0.2f), ExportContext.Float("beta", 0.5f));
        x = g.Node("Mul", [s, x]);
        x = g.Node("Slice", [x, g.Ints("starts", 1), g.Ints("ends", long.MaxValue), g.Ints("axes", 1)]);
        var m = AssertMatchesOrt(g.Finish(x));
        Assert.Contains(m.Graph.Nodes, n => n.Op is SiluOp);
        Assert.Contains(m.Graph.Nodes, n => n.Op is Conv2dOp { IsDepthwise: true, Dilation: 2 });
        Assert.Contains(m.Graph.Nodes, n => n.Op is MulOp);
        Assert.Contains(m.Graph.Nodes, n => n.Op is HardSigmoidOp { Alpha: > 0.19 and < 0.21 });
        Assert.Contains(m.Graph.Nodes, n => n.Op is ChannelSliceOp { Start: 1, Channels: 7 });
    }

    [Fact]
    public void ClipByAttributeAndReduceMeanWithoutKeepdimsAndSoftmax()
    {
        // Opset 10: Clip's bounds are attributes (ReLU6 as older exporters wrote it).
        var g = new G(10);
        var x = g.Node("Clip", [g.Conv("input", C, 6, 3, ExportContext.Ints("pads", 1, 1, 1, 1))], ExportContext.Float("min", 0f), ExportContext.Float("max", 6f));
        x = g.Node("ReduceMean", [x], ExportContext.Ints("axes", -1, -2), ExportContext.Int("keepdims", 0));
        x = g.Node("Softmax", [x], ExportContext.Int("axis", 1));
        var m = AssertMatchesOrt(g.Finish(x, pooled: true));
        Assert.Contains(m.Graph.Nodes, n => n.Op is ClipOp { Min: 0, Max: 6 });
        Assert.Contains(m.Graph.Nodes, n => n.Op is FlattenOp);
        Assert.IsType<SoftmaxOp>(m.Graph.Nodes[^1].Op);
    }

    [Fact]
    public void UnsupportedPatternsFailWithOneLineNamingTheNode()
    {
        var g = new G(13);
        var x = g.Node("LogSoftmax", [g.Node("Flatten", [g.Node("GlobalAveragePool", ["input"])], ExportContext.Int("axis", 1))], ExportContext.Int("axis", 1));
        var e = Fails(g.Finish(x, pooled: true));
        Assert.Contains("node '/LogSoftmax_2'", e.Message);
        Assert.Contains("export the logits", e.Message);
        // A Transpose of a feature map that is neither the middle of a channel shuffle nor a channels-last view.
        g = new G(13);
        x = g.Node("Transpose", ["input"], ExportContext.Ints("perm", 0, 1, 3, 2));
        e = Fails(g.Finish(x));
        Assert.Contains("node '/Transpose_0'", e.Message);
        Assert.Contains("channel shuffle", e.Message);
        // A channels-last view (ConvNeXt's Transpose [0, 2, 3, 1]) read by anything but its patterns fails at that reader.
        g = new G(13);
        x = g.Node("Transpose", ["input"], ExportContext.Ints("perm", 0, 2, 3, 1));
        e = Fails(g.Finish(x));
        Assert.Contains("node '/GlobalAveragePool_1'", e.Message);
        Assert.Contains("channels-last view", e.Message);
        // Slicing the spatial axes.
        g = new G(13);
        x = g.Node("Slice", ["input", g.Ints("s", 1), g.Ints("e", 4), g.Ints("a", 2)]);
        e = Fails(g.Finish(x));
        Assert.Contains("only channel ranges", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
