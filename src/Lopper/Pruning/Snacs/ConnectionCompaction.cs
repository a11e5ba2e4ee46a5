using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Structure;
using Lopper.Tensors;

namespace Lopper.Pruning.Snacs;

/// <summary>
/// Turns connection masks into a smaller model: filters left with no incoming connections or no outgoing ones are
/// removed by channel surgery; every other zeroed slice stays in place as a held mask.
/// </summary>
/// <remarks>
/// A filter whose incoming slices are all cut still emits a constant (its bias, then batch-norm and ReLU). Rather
/// than fold that constant into the readers (inexact at zero-padded borders), its outgoing slices are cut too, so the
/// filter carries nothing anyone reads and goes with an exact compaction; fine-tuning's biases absorb the constant.
/// A filter nobody reads loses its incoming slices likewise (no effect on outputs). Both rules repeat until nothing
/// changes, since each removal can orphan filters upstream. Channels tied by a residual addition are left to the
/// surgery's own rule (removed only when no reader anywhere in the coupled space uses them).
/// </remarks>
public static class ConnectionCompaction
{
    /// <summary>Writes weight ⊙ mask of every masked parameter of <paramref name="source"/> into <paramref name="target"/> (same graph).</summary>
    public static void WriteMasked(Model source, Model target, IReadOnlyDictionary<string, float[]> masks)
    {
        foreach (var (name, mask) in masks)
            TensorPrimitives.Multiply(source.Find(name)!.Value.Span, mask, target.Find(name)!.Value.Span);
    }

    /// <summary>
    /// Cuts the outgoing slices of filters with no incoming weight and the incoming slices of filters nobody reads, in
    /// <paramref name="model"/> (already masked) and in <paramref name="masks"/>, until a fixpoint. Returns the number of
    /// channels affected.
    /// </summary>
    public static int PropagateDead(Model model, ChannelGroups groups, Dictionary<string, float[]> masks)
    {
        int affected = 0;
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (var g in groups.Prunable)
            {
                if (g.Coupled || g.Producers.Count != 1) continue;
                int producer = g.Producers[0];
                var inSlice = g.Slices.FirstOrDefault(s => !s.Consumes && s.Node == producer && s.Parameter.EndsWith(".weight", StringComparison.Ordinal));
                var readers = g.Slices.Where(s => s.Consumes).ToList();
                if (inSlice is null || readers.Count == 0) continue;
                for (int ch = 0; ch < g.Channels; ch++)
                {
                    bool deadIn = AxisSlicing.L1(model.Find(inSlice.Parameter)!.Value, inSlice, ch) == 0;
                    bool deadOut = readers.All(s => AxisSlicing.L1(model.Find(s.Parameter)!.Value, s, ch) == 0);
                    if (deadIn == deadOut) continue;
                    foreach (var s in deadIn ? readers : [inSlice]) Cut(model, masks, s, ch);
                    affected++;
                    changed = true;
                }
            }
        }
        return affected;
    }

    private static void Cut(Model model, Dictionary<string, float[]> masks, GroupSlice s, int ch)
    {
        var p = model.Find(s.Parameter)!;
        if (!masks.TryGetValue(s.Parameter, out var m))
        {
            m = new float[p.Value.Length];
            m.AsSpan().Fill(1f);
            masks[s.Parameter] = m;
        }
        AxisSlicing.Zero(p.Value, s, [ch]);
        AxisSlicing.Zero(new Tensor(p.Spec.Shape, m), s, [ch]);
    }

    /// <summary>
    /// Masks <paramref name="model"/> in place, propagates dead filters, and compacts it. The returned masks address the
    /// compacted model's parameters and hold every remaining cut slice.
    /// </summary>
    public static (Model Compact, ParameterMasks Masks, int DeadChannels) Compact(Model model, Dictionary<string, float[]> masks)
    {
        var groups = ChannelGroups.Analyze(model.Graph);
        WriteMasked(model, model, masks);
        int dead = PropagateDead(model, groups, masks);
        var selection = ColumnSurgery.RemovableChannels(model, groups);
        var compact = ChannelSurgery.Compact(model, groups, selection, model.Graph.Name);
        var maskModel = MaskModel(model.Graph, masks);
        var compactMasks = ChannelSurgery.Compact(maskModel, groups, selection, model.Graph.Name);
        var result = new ParameterMasks();
        foreach (var name in masks.Keys)
        {
            var m = compactMasks.Find(name)!.Value.Span;
            var zeros = new List<int>();
            for (int i = 0; i < m.Length; i++) if (m[i] == 0) zeros.Add(i);
            result.AddElements(compact, name, zeros);
        }
        return (compact, result, dead);
    }

    /// <summary>A model of the graph whose masked parameters hold their masks (others: ones), for carrying masks through surgery.</summary>
    public static Model MaskModel(ModelGraph graph, IReadOnlyDictionary<string, float[]> masks)
    {
        var m = new Model(graph);
        foreach (var p in m.Parameters) p.Value.Span.Fill(1f);
        foreach (var (name, mask) in masks) mask.CopyTo(m.Find(name)!.Value.Span);
        return m;
    }

    /// <summary>
    /// Parameters kept and MACs of a model whose masked weights are given by <paramref name="maskOf"/>: a zeroed weight
    /// is not a kept parameter; a convolution costs (surviving weights)·H_out·W_out per image, a linear layer its
    /// surviving weights (spec §12 item 12: surviving slices × k_h·k_w × H_out·W_out). Unmasked layers count as dense.
    /// </summary>
    public static (long Params, long Macs) Cost(Model model, Func<string, ReadOnlyMemory<float>?> maskOf)
    {
        var (p, _) = CostCounter.Totals(model.Graph);
        long macs = 0;
        var graph = model.Graph;
        for (int i = 1; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            var shapes = graph.InputShapesOf(node);
            long dense = node.Op.Macs(shapes);
            var mask = node.Op is Conv2dOp or LinearOp ? maskOf(node.Name + ".weight") : null;
            if (mask is not { } mk) { macs += dense; continue; }
            long nonzero = (long)TensorPrimitives.Sum(mk.Span);
            p -= mk.Length - nonzero;
            macs += node.Op is Conv2dOp ? nonzero * node.OutputShape[2] * node.OutputShape[3] : nonzero;
        }
        return (p, macs);
    }

    /// <summary><see cref="Cost(Model, Func{string, ReadOnlyMemory{float}?})"/> with <see cref="ParameterMasks"/>.</summary>
    public static (long Params, long Macs) Cost(Model model, ParameterMasks masks)
        => Cost(model, name => masks.Of(name) is { } t ? t.Data : null);
}
