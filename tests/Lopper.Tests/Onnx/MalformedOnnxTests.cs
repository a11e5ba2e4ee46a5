using Google.Protobuf;
using Lopper.Onnx;
using Lopper.Onnx.Import;
using Lopper.Onnx.Proto;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;
using static Lopper.Tests.Onnx.OnnxFixtures;

namespace Lopper.Tests.Onnx;

/// <summary>Broken and unsupported files: `lopper import` exits 2 with one line naming the problem, and allocates nothing unbounded.</summary>
[Collection(ConsoleCollection.Name)]
public class MalformedOnnxTests
{
    private static ModelProto Vgg() => OnnxFile.Load(File("vgg_small"));

    private static (int Code, string Err) Import(TempDir dir, byte[] bytes)
    {
        var path = dir.File("bad.onnx");
        System.IO.File.WriteAllBytes(path, bytes);
        var (code, _, err) = CliHarness.Run("import", path, "--out", dir.File("out"));
        return (code, err.Trim());
    }

    private static void AssertOneLine(int code, string err, string contains)
    {
        Assert.Equal(2, code);
        Assert.DoesNotContain('\n', err);
        Assert.Contains(contains, err);
        Assert.DoesNotContain("internal error", err);
    }

    [Fact]
    public void TruncatedFileFails()
    {
        using var dir = new TempDir();
        var bytes = System.IO.File.ReadAllBytes(File("resnet_small"));
        var (code, err) = Import(dir, bytes[..(bytes.Length / 2)]);
        AssertOneLine(code, err, "not a valid ONNX file");
    }

    [Fact]
    public void GarbageAndEmptyFilesFail()
    {
        using var dir = new TempDir();
        var (code, err) = Import(dir, [0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34]);
        AssertOneLine(code, err, "bad.onnx");
        (code, err) = Import(dir, []);
        AssertOneLine(code, err, "empty file");
    }

    [Fact]
    public void UnknownOpFailsNamingOpAndNode()
    {
        using var dir = new TempDir();
        var m = Vgg();
        var node = m.Graph.Node.First(n => n.OpType == "Relu");
        node.OpType = "Swish";
        var (code, err) = Import(dir, m.ToByteArray());
        AssertOneLine(code, err, $"node '{node.Name}' (Swish): op type 'Swish' is not supported");
    }

    [Fact]
    public void InitializerSmallerThanItsDimsFailsBeforeAllocating()
    {
        using var dir = new TempDir();
        var m = Vgg();
        var w = m.Graph.Initializer.First(t => t.Name == "features.0.weight");
        w.RawData = ByteString.CopyFrom(w.RawData.Span[..(w.RawData.Length - 4)]);
        var (code, err) = Import(dir, m.ToByteArray());
        AssertOneLine(code, err, "initializer 'features.0.weight': raw_data holds");
        // Dims claiming 2^40 elements are refused from the dims alone.
        m = Vgg();
        w = m.Graph.Initializer.First(t => t.Name == "features.0.weight");
        w.Dims.Clear();
        w.Dims.Add([1 << 20, 1 << 20]);
        (code, err) = Import(dir, m.ToByteArray());
        AssertOneLine(code, err, "exceed");
    }

    [Fact]
    public void CyclicGraphFails()
    {
        using var dir = new TempDir();
        var m = Vgg();
        // The first convolution reads the output of a node after it: a cycle through the feature extractor.
        var conv = m.Graph.Node.First(n => n.OpType == "Conv");
        var later = m.Graph.Node.Last(n => n.OpType == "Relu");
        conv.Input[0] = later.Output[0];
        var (code, err) = Import(dir, m.ToByteArray());
        AssertOneLine(code, err, "cyclic or not topologically sorted");
    }

    [Fact]
    public void UnsupportedAttributeAndAsymmetricPaddingFail()
    {
        using var dir = new TempDir();
        var m = Vgg();
        var conv = m.Graph.Node.First(n => n.OpType == "Conv");
        conv.Attribute.First(a => a.Name == "pads").Ints[2] = 0;
        var (code, err) = Import(dir, m.ToByteArray());
        AssertOneLine(code, err, "differs between the two sides of an axis and cannot be folded");
        m = Vgg();
        m.Graph.Node.First(n => n.OpType == "Relu").Attribute.Add(new AttributeProto { Name = "alpha", Type = 1, F = 0.1f });
        (code, err) = Import(dir, m.ToByteArray());
        AssertOneLine(code, err, "attribute 'alpha' is not supported");
    }

    // input [N,1,4,4] -> Add(input, c) -> Flatten -> output: a graph Lopper must refuse (a constant added to a feature map).
    private static ModelProto AddConstant()
    {
        var g = new GraphProto { Name = "addc" };
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        foreach (int d in new[] { 1, 4, 4 }) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        g.Input.Add(new ValueInfoProto { Name = "x", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } });
        g.Initializer.Add(OnnxTensors.FromFloats("c", [1], [1f]));
        g.Node.Add(new NodeProto { Name = "plus", OpType = "Add", Input = { "x", "c" }, Output = { "y" } });
        g.Node.Add(new NodeProto { Name = "flat", OpType = "Flatten", Input = { "y" }, Output = { "z" } });
        g.Output.Add(new ValueInfoProto { Name = "z" });
        var m = new ModelProto { IrVersion = 7, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Version = 13 });
        return m;
    }

    [Fact]
    public void ConstantAddedToTheInputFailsNamingTheNode()
    {
        using var dir = new TempDir();
        var (code, err) = Import(dir, AddConstant().ToByteArray());
        AssertOneLine(code, err, "node 'plus' (Add): adding a constant to a feature map is supported only as the bias of a MatMul");
    }

    [Fact]
    public void UnsupportedOpsetFails()
    {
        using var dir = new TempDir();
        var m = AddConstant();
        m.OpsetImport[0].Version = 3;
        var (code, err) = Import(dir, m.ToByteArray());
        AssertOneLine(code, err, "opset 3 is not supported");
    }
}
