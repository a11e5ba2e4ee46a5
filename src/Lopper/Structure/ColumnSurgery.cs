using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;

namespace Lopper.Structure;

/// <summary>
/// Compacts pruned kernel columns. A column (input channel c, ky, kx) is gone when its weights are zero
/// in every filter. Channels whose every reader has dropped all their columns are removed as whole
/// channels (their producing filters go too, via <see cref="ChannelSurgery"/>); the remaining partial
/// convolutions become column-subset convolutions that skip the dropped im2col rows.
/// </summary>
public static class ColumnSurgery
{
    /// <summary>Zero columns of a convolution weight [O, C, k, k] (as im2col row indices).</summary>
    public static List<int> ZeroColumns(Tensor weight)
    {
        int o = weight.Shape[0], rows = weight.Length / o;
        var zero = new List<int>();
        for (int r = 0; r < rows; r++)
        {
            bool all = true;
            for (int f = 0; f < o && all; f++) all = weight.Data[f * rows + r] == 0f;
            if (all) zero.Add(r);
        }
        return zero;
    }

    /// <summary>
    /// Channels that can go without changing any output: those no reader uses (every consuming slice is
    /// zero) and those that are always zero (every producing and normalising slice is zero, so the
    /// channel carries 0 whatever the input).
    /// </summary>
    public static ChannelSelection RemovableChannels(Model model, ChannelGroups groups)
    {
        var sel = new ChannelSelection();
        foreach (var g in groups.Prunable)
        {
            var readers = g.Slices.Where(s => s.Consumes).ToList();
            var writers = g.Slices.Where(s => !s.Consumes && model.Find(s.Parameter)!.Trainable).ToList();
            if (readers.Count == 0) continue;
            bool AllZero(List<GroupSlice> slices, int c)
            {
                foreach (var s in slices)
                    if (AxisSlicing.L1(model.Find(s.Parameter)!.Value, s, c) != 0) return false;
                return true;
            }
            var kept = new List<int>();
            for (int c = 0; c < g.Channels; c++)
                if (!AllZero(readers, c) && (writers.Count == 0 || !AllZero(writers, c))) kept.Add(c);
            if (kept.Count == 0) kept.Add(0); // a group cannot vanish; keep one channel so shapes stay valid
            if (kept.Count < g.Channels) sel.Keep(g, kept);
        }
        return sel;
    }

    /// <summary>A new model with dead channels removed and zero kernel columns skipped; outputs equal the input model's.</summary>
    public static Model Compact(Model model, string? name = null)
    {
        var groups = ChannelGroups.Analyze(model.Graph);
        var channelsGone = ChannelSurgery.Compact(model, groups, RemovableChannels(model, groups), name);
        var graph = channelsGone.Graph;
        var nodes = new List<Node>();
        var newWeights = new Dictionary<string, Tensor>();
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            if (node.Op is Conv2dOp { Groups: 1, Dilation: 1 } conv && conv.Columns is null)
            {
                var w = channelsGone.Find($"{node.Name}.weight")!.Value;
                var zero = ZeroColumns(w);
                int rows = w.Length / conv.OutChannels;
                if (zero.Count > 0 && zero.Count < rows)
                {
                    var dropped = new HashSet<int>(zero);
                    var keep = Enumerable.Range(0, rows).Where(r => !dropped.Contains(r)).ToArray();
                    var colConv = conv.With(conv.HasBias, keep, conv.FusedRelu, conv.AddsResidual);
                    nodes.Add(new Node(node.Name, colConv, node.Inputs));
                    var packed = new Tensor([conv.OutChannels, keep.Length]);
                    for (int f = 0; f < conv.OutChannels; f++)
                        for (int j = 0; j < keep.Length; j++) packed.Data[f * keep.Length + j] = w.Data[f * rows + keep[j]];
                    newWeights[$"{node.Name}.weight"] = packed;
                    continue;
                }
            }
            nodes.Add(node);
        }
        var result = new Model(new ModelGraph(graph.Name, nodes.Select(n => new Node(n.Name, n.Op, n.Inputs)).ToList()));
        foreach (var p in result.Parameters)
            (newWeights.GetValueOrDefault(p.Name) ?? channelsGone.Find(p.Name)!.Value).Span.CopyTo(p.Value.Span);
        return result;
    }
}
