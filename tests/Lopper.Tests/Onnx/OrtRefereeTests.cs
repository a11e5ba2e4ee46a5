using Google.Protobuf;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Io;
using Lopper.Onnx;
using Lopper.Onnx.Export;
using Lopper.Onnx.Import;
using Lopper.Pruning;
using Lopper.Structure;
using Lopper.Tests.Data;
using Lopper.Tests.Structure;
using static Lopper.Tests.Onnx.OnnxFixtures;

namespace Lopper.Tests.Onnx;

/// <summary>
/// ONNX Runtime as the independent referee: every zoo model, dense and L1-pruned-and-compacted (and masked,
/// and with kernel-column convolutions), exported and run in ONNX Runtime, gives Lopper's outputs; and
/// importing the export gives the same model back.
/// </summary>
public class OrtRefereeTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static Model Pruned(Model model)
    {
        var groups = ChannelGroups.Analyze(model.Graph);
        var sel = ChannelPlanner.Plan(model.Graph, groups, ChannelImportance.L1(model, groups), new Budget(BudgetKind.Macs, 0.5));
        ChannelSurgery.Mask(model, groups, sel);
        return ChannelSurgery.Compact(model, groups, sel, model.Graph.Name + "-pruned");
    }

    [Theory]
    [MemberData(nameof(StructureFixtures.ZooNames), MemberType = typeof(StructureFixtures))]
    public void ZooModelDenseAndPrunedRunTheSameInOnnxRuntime(string name)
    {
        var dense = StructureFixtures.Build(name, 21);
        var x = StructureFixtures.Input(dense, 3, 8);
        double denseErr = MaxRelativeError(Run(dense, x), RunOrt(dense, x));
        Assert.True(denseErr <= 1e-4, $"{name} dense: ORT vs Lopper max relative error {denseErr:E2}");
        var pruned = Pruned(dense);
        Assert.True(pruned.Graph.Macs() < 0.6 * dense.Graph.Macs());
        double prunedErr = MaxRelativeError(Run(pruned, x), RunOrt(pruned, x));
        Assert.True(prunedErr <= 1e-4, $"{name} pruned: ORT vs Lopper max relative error {prunedErr:E2}");
        output.WriteLine($"{name}: ORT vs Lopper max relative error dense {denseErr:E2}, L1-pruned to {100.0 * pruned.Graph.Macs() / dense.Graph.Macs():F0}% MACs {prunedErr:E2}");
    }

    [Theory]
    [InlineData("mobilenet_v2_x035")]
    [InlineData("mobilenet_v3_small_x05")]
    [InlineData("shufflenet_v2_x05")]
    [InlineData("squeezenet1_1")]
    [InlineData("densenet_block")]
    [InlineData("googlenet_small")]
    [InlineData("resnet_small")]
    public void ImportedFixturePrunedCompactedAndExportedRunsTheSameInOnnxRuntime(string name)
    {
        var model = OnnxImporter.Import(OnnxFile.Load(File(name)), name, name).Model;
        var x = OnnxFixtures.Input(name, model.Graph.InputShape);
        long denseMacs = model.Graph.Macs();
        var pruned = Pruned(model);
        var masked = Run(model, x);
        var compact = Run(pruned, x);
        Assert.True(pruned.Graph.Macs() < 0.75 * denseMacs, $"{name}: L1 kept {100.0 * pruned.Graph.Macs() / denseMacs:F0}% of the MACs");
        double maskErr = MaxRelativeError(masked, compact), ortErr = MaxRelativeError(compact, RunOrt(pruned, x));
        Assert.True(maskErr <= 1e-4, $"{name}: compacted vs masked {maskErr:E2}");
        Assert.True(ortErr <= 1e-4, $"{name}: ORT vs Lopper on the pruned model {ortErr:E2}");
        output.WriteLine($"{name}: {100.0 * pruned.Graph.Macs() / denseMacs:F0}% MACs kept; compacted vs masked {maskErr:E2}, ORT vs Lopper {ortErr:E2}");
    }

    [Theory]
    [InlineData("resnet20")]
    [InlineData("vgg-small")]
    public void MaskedAndColumnPrunedModelsRunTheSameInOnnxRuntime(string name)
    {
        var model = StructureFixtures.Build(name, 5);
        var rng = new Lopper.Tensors.Rng(3);
        var masks = new ParameterMasks();
        foreach (var node in model.Graph.Nodes)
        {
            if (node.Op is not Conv2dOp conv || node.InputIndices[0] == 0) continue;
            int rows = conv.InChannels * conv.Kernel * conv.Kernel;
            masks.AddColumns(model, $"{node.Name}.weight", Enumerable.Range(0, rows).Where(_ => rng.NextDouble() < 0.4).ToList());
        }
        masks.Apply(model);
        var x = StructureFixtures.Input(model, 2, 4);
        Assert.True(MaxRelativeError(Run(model, x), RunOrt(model, x)) <= 1e-4, "masked");
        var columns = ColumnSurgery.Compact(model);
        Assert.Contains(columns.Graph.Nodes, n => n.Op is Conv2dOp { Columns: not null });
        Assert.True(MaxRelativeError(Run(columns, x), RunOrt(columns, x)) <= 1e-4, "kernel columns");
    }

    [Theory]
    [InlineData("resnet20")]
    [InlineData("mobilenetv2")]
    public void InferenceFoldedModelRunsTheSameInOnnxRuntime(string name)
    {
        // Fused ReLUs and residual joins are written back out as Relu and Add nodes, fused ReLU6s as Clip.
        var model = InferenceFolding.Fold(StructureFixtures.Build(name, 2));
        if (name == "resnet20") Assert.Contains(model.Graph.Nodes, n => n.Op is Conv2dOp { AddsResidual: true });
        else Assert.Contains(model.Graph.Nodes, n => n.Op is Conv2dOp { ReluMax: 6 });
        var x = StructureFixtures.Input(model, 2, 6);
        Assert.True(MaxRelativeError(Run(model, x), RunOrt(model, x)) <= 1e-4);
    }

    [Theory]
    [MemberData(nameof(StructureFixtures.ZooNames), MemberType = typeof(StructureFixtures))]
    public void ImportOfExportIsTheSameModel(string name)
    {
        foreach (var model in new[] { StructureFixtures.Build(name, 8), Pruned(StructureFixtures.Build(name, 9)) })
        {
            var bytes = OnnxExporter.Export(model).ToByteArray();
            var back = OnnxImporter.Import(OnnxFile.Parse(bytes, name), name, model.Graph.Name).Model;
            // Dropout is the identity at inference and is neither exported nor imported: compare with it bypassed.
            var expected = WithoutDropout(model.Graph);
            Assert.Equal(expected.Count, back.Graph.Nodes.Count);
            for (int i = 0; i < expected.Count; i++)
            {
                var (e, b) = (expected[i], back.Graph.Nodes[i]);
                Assert.Equal(e.Name, b.Name);
                Assert.Equal(e.Type, b.Op.Type);
                Assert.Equal(e.Inputs, b.Inputs);
                Assert.Equal(e.Attributes, b.Op.Attributes().ToJsonString());
            }
            foreach (var p in model.Parameters)
                if (model.Find(p.Name)!.Owner.Op is not DropoutOp) Assert.Equal(p.Value.Data, back.Find(p.Name)!.Value.Data);
            Assert.Equal(model.ParameterCount(), back.ParameterCount());
        }
    }

    private static List<(string Name, string Type, string[] Inputs, string Attributes)> WithoutDropout(ModelGraph g)
    {
        var alias = new Dictionary<string, string>();
        var r = new List<(string, string, string[], string)>();
        foreach (var n in g.Nodes)
        {
            var inputs = n.Inputs.Select(i => alias.GetValueOrDefault(i, i)).ToArray();
            if (n.Op is DropoutOp) { alias[n.Name] = inputs[0]; continue; }
            r.Add((n.Name, n.Op.Type, inputs, n.Op.Attributes().ToJsonString()));
        }
        return r;
    }

    [Fact]
    public void GatesAndChannelScalesExportAsMul()
    {
        var nodes = new List<Node>
        {
            new("input", new InputOp([2, 4, 4])),
            new("conv", new Conv2dOp(2, 3, 3, 1, 1, true), "input"),
            new("gate", new GateOp(3, 3, 4, "unit:conv"), "conv"),
            new("scale", new ChannelMulOp(3), "gate"),
            new("pool", new GlobalAvgPoolOp(), "scale"),
            new("flat", new FlattenOp(), "pool"),
            new("fc", new LinearOp(3, 2), "flat"),
        };
        var model = new Model(new ModelGraph("gated", nodes), 4);
        var rng = new Lopper.Tensors.Rng(1);
        model.Find("gate.theta")!.Value.Data.AsSpan().Set([0.9f, 0.3f, 0.6f]);
        foreach (var i in Enumerable.Range(0, 3)) model.Find("scale.scale")!.Value.Data[i] = 0.5f + (float)rng.NextDouble();
        var x = StructureFixtures.Input(model, 2, 1);
        var onnx = OnnxExporter.Export(model);
        Assert.Equal(2, onnx.Graph.Node.Count(n => n.OpType == "Mul"));
        Assert.True(MaxRelativeError(Run(model, x), RunOrt(model, x)) <= 1e-4);
    }

    [Fact]
    public void FolderExportRecordsLopperMetadata()
    {
        using var dir = new TempDir();
        var model = StructureFixtures.Build("lenet5", 1);
        ModelStore.Save(model, dir.Path);
        System.IO.File.WriteAllText(dir.File("run.json"), """{"method": "l1", "accuracy_finetuned": 0.875, "accuracy_pruned": 0.5}""");
        new Lopper.Data.Preprocessing { InputShape = [1, 28, 28], ChannelOrder = "grey", Mean = [0.25f], Std = [0.5f], ClassNames = Enumerable.Range(0, 10).Select(i => i.ToString()).ToArray() }.Save(dir.Path);
        var path = dir.File("m.onnx");
        ModelFolders.Export(dir.Path, path);
        var onnx = OnnxFile.Load(path);
        var meta = onnx.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("l1", meta["lopper.method"]);
        Assert.Equal("0.875", meta["lopper.accuracy"]);
        Assert.Equal(model.Graph.Macs().ToString(), meta["lopper.macs"]);
        Assert.Equal(model.ParameterCount().ToString(), meta["lopper.params"]);
        Assert.Equal("0.25", meta["lopper.mean"]);
        Assert.Equal(13, onnx.OpsetImport.Single().Version);
        Assert.Equal("batch", onnx.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
    }
}

internal static class SpanSetExtensions
{
    public static void Set(this Span<float> s, float[] v) => v.CopyTo(s);
}
