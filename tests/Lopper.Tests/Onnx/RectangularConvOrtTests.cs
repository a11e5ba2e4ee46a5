using Google.Protobuf;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Onnx;
using Lopper.Onnx.Export;
using Lopper.Onnx.Import;
using Lopper.Pruning;
using Lopper.Structure;
using Lopper.Tests.Structure;
using static Lopper.Tests.Onnx.OnnxFixtures;

namespace Lopper.Tests.Onnx;

/// <summary>
/// An Inception-style block with 1x7 and 7x1 convolutions (per-axis padding), dense and L1-pruned and compacted,
/// exported and run in ONNX Runtime: the runtime gives Lopper's outputs, and importing the export gives the same
/// convolutions back.
/// </summary>
public class RectangularConvOrtTests
{
    private static Model Block()
    {
        var b = new GraphBuilder([3, 12, 10]);
        string stem = b.Relu("stem_relu", b.BatchNorm("stem_bn", b.Conv("stem", b.Input, 16, 3, padding: 1)));
        string a = b.Relu("a_relu", b.BatchNorm("a_bn", b.Conv("a", stem, 12, 1)));
        string r = b.Add("row", new Conv2dOp(12, 12, 1, 1, 0, false, kernelW: 7, paddingW: 3), a);
        r = b.Relu("row_relu", b.BatchNorm("row_bn", r));
        string c = b.Add("col", new Conv2dOp(12, 10, 7, 1, 3, false, kernelW: 1, paddingW: 0), r);
        c = b.Relu("col_relu", b.BatchNorm("col_bn", c));
        string d = b.Relu("d_relu", b.BatchNorm("d_bn", b.Conv("d", stem, 8, 1)));
        string cat = b.Concat("cat", c, d);
        // A strided rectangular convolution with unequal padding, then the head.
        string s = b.Add("wide", new Conv2dOp(18, 8, 3, 2, 0, true, kernelW: 5, paddingW: 2), cat);
        string pool = b.Add("pool", new GlobalAvgPoolOp(), b.Relu("wide_relu", s));
        b.Add("fc", new LinearOp(8, 5), b.Add("flat", new FlattenOp(), pool));
        var model = new Model(b.Build("inception-block"), 17);
        // Non-trivial batch-norm statistics, so that folding and pruning have something to get wrong.
        var rng = new Lopper.Tensors.Rng(18);
        foreach (var p in model.Parameters)
            if (p.Name.EndsWith(".running_mean") || p.Name.EndsWith(".bias"))
                for (int i = 0; i < p.Value.Length; i++) p.Value.Data[i] = (float)(rng.NextDouble() - 0.5);
            else if (p.Name.EndsWith(".running_var"))
                for (int i = 0; i < p.Value.Length; i++) p.Value.Data[i] = 0.5f + (float)rng.NextDouble();
        return model;
    }

    [Fact]
    public void DenseAndPrunedRectangularConvolutionsRunTheSameInOnnxRuntime()
    {
        var dense = Block();
        var x = StructureFixtures.Input(dense, 3, 4);
        Assert.True(MaxRelativeError(Run(dense, x), RunOrt(dense, x)) <= 1e-4, "dense");

        var groups = ChannelGroups.Analyze(dense.Graph);
        var sel = ChannelPlanner.Plan(dense.Graph, groups, ChannelImportance.L1(dense, groups), new Budget(BudgetKind.Macs, 0.5));
        ChannelSurgery.Mask(dense, groups, sel);
        var masked = Run(dense, x);
        var pruned = ChannelSurgery.Compact(dense, groups, sel, "inception-block-pruned");
        Assert.True(pruned.Graph.Macs() < 0.6 * dense.Graph.Macs());
        var row = (Conv2dOp)pruned.Graph.Nodes.Single(n => n.Name == "row").Op;
        Assert.Equal((1, 7, 0, 3), (row.KernelH, row.KernelW, row.PadH, row.PadW));
        var compact = Run(pruned, x);
        Assert.True(MaxRelativeError(masked, compact) <= 1e-4, "compacted vs masked");
        Assert.True(MaxRelativeError(compact, RunOrt(pruned, x)) <= 1e-4, "pruned: ORT vs Lopper");

        var folded = InferenceFolding.Fold(pruned);
        Assert.True(MaxRelativeError(compact, RunOrt(folded, x)) <= 1e-4, "folded: ORT vs Lopper's unfolded model");
    }

    [Fact]
    public void KernelColumnsOfRectangularConvolutionsRunTheSameInOnnxRuntime()
    {
        var model = Block();
        // Zero every third kernel column (input channel, ky, kx) of the 1x7 and 7x1 convolutions in all filters.
        foreach (var name in new[] { "row", "col" })
        {
            var w = model.Find(name + ".weight")!.Value;
            int rows = w.Length / w.Shape[0];
            for (int f = 0; f < w.Shape[0]; f++)
                for (int r = 0; r < rows; r += 3) w.Data[f * rows + r] = 0f;
        }
        var x = StructureFixtures.Input(model, 2, 5);
        var dense = Run(model, x);
        var compact = ColumnSurgery.Compact(model, "columns");
        var row = (Conv2dOp)compact.Graph.Nodes.Single(n => n.Name == "row").Op;
        Assert.NotNull(row.Columns);
        Assert.Equal((1, 7, 0, 3), (row.KernelH, row.KernelW, row.PadH, row.PadW));
        var y = Run(compact, x);
        Assert.True(MaxRelativeError(dense, y) <= 1e-5, "columns vs dense kernel with zero columns");
        Assert.True(MaxRelativeError(y, RunOrt(compact, x)) <= 1e-4, "columns: ORT vs Lopper");
    }

    [Fact]
    public void ImportOfTheExportGivesTheSameRectangularConvolutions()
    {
        var model = Block();
        var onnx = OnnxExporter.Export(model);
        var conv = onnx.Graph.Node.Single(n => n.Name == "row");
        Assert.Equal([1L, 7L], conv.Attribute.Single(a => a.Name == "kernel_shape").Ints);
        Assert.Equal([0L, 3L, 0L, 3L], conv.Attribute.Single(a => a.Name == "pads").Ints);
        var back = OnnxImporter.Import(OnnxFile.Parse(onnx.ToByteArray(), "block"), "block", "block").Model;
        foreach (var name in new[] { "row", "col", "wide" })
            Assert.Equal(model.Graph.Nodes.Single(n => n.Name == name).Op.Attributes().ToJsonString(),
                back.Graph.Nodes.Single(n => n.Name == name).Op.Attributes().ToJsonString());
        var x = StructureFixtures.Input(model, 2, 9);
        Assert.True(MaxRelativeError(Run(model, x), Run(back, x)) <= 1e-5);
    }
}
