using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Io;
using Lopper.Pruning;
using Lopper.Structure;
using Lopper.Tensors;
using Lopper.Tests.Data;
using static Lopper.Tests.Graph.GradCheck;
using static Lopper.Tests.Structure.StructureFixtures;

namespace Lopper.Tests.Structure;

[Collection(Lopper.Tests.Graph.SerialGraphCollection.Name)]
public class ColumnSurgeryTests
{
    [Theory]
    [InlineData(3, 1, 1, 1)]
    [InlineData(3, 2, 1, 2)]
    [InlineData(1, 2, 0, 2)]
    public void ColumnConvolutionGradientsMatchFiniteDifferences(int kernel, int stride, int padding, int threads)
    {
        using var _ = new Lopper.Tests.Graph.ThreadsScope(threads);
        var rng = new Rng(77);
        int cin = 3, cout = 2, rows = cin * kernel * kernel;
        var keep = Enumerable.Range(0, rows).Where(r => r % 3 != 1).ToArray();
        var op = new Conv2dOp(cin, cout, kernel, stride, padding, true, keep);
        CheckOp(op, [Randn(rng, 3, cin, 5, 5)], [Randn(rng, cout, keep.Length), Randn(rng, cout)], [true, true]);
    }

    [Fact]
    public void ColumnConvolutionEqualsMaskedDenseConvolution()
    {
        var rng = new Rng(5);
        var dense = new Conv2dOp(4, 3, 3, 1, 1, false);
        var keep = new[] { 0, 2, 5, 9, 10, 20, 35 };
        var w = Randn(rng, 3, 4, 3, 3);
        var masked = w.Clone();
        for (int f = 0; f < 3; f++) for (int r = 0; r < 36; r++) if (!keep.Contains(r)) masked.Data[f * 36 + r] = 0;
        var packed = new Tensor([3, keep.Length]);
        for (int f = 0; f < 3; f++) for (int j = 0; j < keep.Length; j++) packed.Data[f * keep.Length + j] = w.Data[f * 36 + keep[j]];
        var x = Randn(rng, 2, 4, 6, 6);
        var st = new NodeState { NeedsInputGrad = [false] };
        var a = dense.Forward([x], [masked], st);
        var b = new Conv2dOp(4, 3, 3, 1, 1, false, keep).Forward([x], [packed], st);
        for (int i = 0; i < a.Length; i++) Assert.Equal(a.Data[i], b.Data[i], 4);
        Assert.Equal(3L * 36 * 7, new Conv2dOp(4, 3, 3, 1, 1, false, keep).Macs([[1, 4, 6, 6]]));
    }

    [Theory]
    [MemberData(nameof(ZooNames), MemberType = typeof(StructureFixtures))]
    public void CompactedColumnsMatchMaskedOutputs(string name)
    {
        var model = Build(name, 12);
        var rng = new Rng(9);
        var masks = new ParameterMasks();
        foreach (var node in model.Graph.Nodes)
        {
            // Kernel columns are pruned in dense convolutions only (SPP plans no grouped ones).
            if (node.Op is not Conv2dOp conv || node.InputIndices[0] == 0 || conv.Groups != 1) continue;
            int rows = conv.InChannels * conv.Kernel * conv.Kernel;
            // Drop ~40% of columns at random, and every column of the first two input channels so whole channels die.
            var drop = Enumerable.Range(0, rows).Where(r => r < 2 * conv.Kernel * conv.Kernel || rng.NextDouble() < 0.4).ToList();
            masks.AddColumns(model, $"{node.Name}.weight", drop);
        }
        masks.Apply(model);
        var x = Input(model, 2, 3);
        var masked = Run(model, x);
        var compact = ColumnSurgery.Compact(model);
        Assert.True(compact.Graph.Macs() < model.Graph.Macs());
        Assert.Contains(compact.Graph.Nodes, n => n.Op is Conv2dOp { Columns: not null });
        AssertClose(masked, Run(compact, x));
        using var dir = new TempDir();
        ModelStore.Save(compact, dir.Path);
        Assert.Equal(Run(compact, x), Run(ModelStore.Load(dir.Path), x));
        // The group read by a column-subset convolution is locked for further channel pruning.
        var groups = ChannelGroups.Analyze(compact.Graph);
        Assert.Contains(groups.Groups, g => g.Locked?.Contains("kernel columns") == true);
    }

    [Fact]
    public void ChannelWhoseReadersDroppedAllColumnsIsRemovedWithItsFilter()
    {
        var model = Build("vgg-small", 2);
        var w = model.Find("features.3.weight")!; // second conv reads the first conv's 64 channels
        var masks = new ParameterMasks().AddColumns(model, w.Name, Enumerable.Range(0, 9 * 5)); // channels 0..4
        masks.Apply(model);
        var compact = ColumnSurgery.Compact(model);
        Assert.Equal(59, ((Conv2dOp)compact.Graph["features.0"].Op).OutChannels);
        Assert.Equal(59, ((Conv2dOp)compact.Graph["features.3"].Op).InChannels);
        Assert.Null(((Conv2dOp)compact.Graph["features.3"].Op).Columns);
    }
}
