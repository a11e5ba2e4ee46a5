using Lopper.Graph;

namespace Lopper.Structure;

/// <summary>
/// Applies a channel selection: <see cref="Mask"/> zeroes the removed slices in place (the model keeps its
/// shape), <see cref="Compact"/> builds a smaller dense model that computes the same function.
/// </summary>
public static class ChannelSurgery
{
    /// <summary>Zeroes every parameter slice of every removed channel.</summary>
    public static void Mask(Model model, ChannelGroups groups, ChannelSelection selection)
    {
        foreach (int id in selection.Groups)
        {
            var g = groups.Groups[id];
            var removed = selection.Removed(g);
            if (removed.Length == 0) continue;
            foreach (var s in g.Slices) AxisSlicing.Zero(model.Find(s.Parameter)!.Value, s, removed);
        }
    }

    /// <summary>
    /// The graph with every group resized to its kept count (ops only, no weights): cheap enough to call
    /// many times while searching for a budget.
    /// </summary>
    public static ModelGraph ResizedGraph(ModelGraph graph, ChannelGroups groups, Func<int, int> keptCount, string? name = null)
    {
        var nodes = new List<Node>(graph.Nodes.Count);
        var newShapes = new int[graph.Nodes.Count][];
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            Op op = node.Op;
            if (i > 0)
            {
                var ins = node.InputIndices.Select(j => newShapes[j]).ToArray();
                op = op.Resized(ins.Select(s => s[1]).ToArray(), groups.KeptCount(i, keptCount));
                newShapes[i] = op.OutputShape(ins);
            }
            else
            {
                newShapes[i] = node.OutputShape;
            }
            nodes.Add(new Node(node.Name, op, node.Inputs));
        }
        return new ModelGraph(name ?? graph.Name, nodes);
    }

    /// <summary>A new model with the removed channels physically gone; its outputs equal the masked model's.</summary>
    public static Model Compact(Model model, ChannelGroups groups, ChannelSelection selection, string? name = null)
    {
        var graph = model.Graph;
        var compactGraph = ResizedGraph(graph, groups, g => selection.KeptCount(groups.Groups[g]), name);
        var compact = new Model(compactGraph);
        for (int i = 1; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            int in0 = node.InputIndices.Length > 0 ? node.InputIndices[0] : -1;
            var keptOut = groups.KeptChannels(i, selection);
            var keptIn = in0 >= 0 ? groups.KeptChannels(in0, selection) : null;
            var oldParams = model.NodeParameters[i];
            var newParams = compact.NodeParameters[i];
            for (int j = 0; j < oldParams.Length; j++)
            {
                var spec = oldParams[j].Spec;
                var t = oldParams[j].Value;
                if (spec.OutAxis >= 0 && keptOut is not null) t = AxisSlicing.Gather(t, spec.OutAxis, keptOut, 1);
                if (spec.InAxis >= 0 && keptIn is not null) t = AxisSlicing.Gather(t, spec.InAxis, keptIn, 1);
                if (!t.Shape.AsSpan().SequenceEqual(newParams[j].Value.Shape))
                    throw new InvalidOperationException($"surgery: {oldParams[j].Name} became {Lopper.Tensors.Tensor.Format(t.Shape)}, expected {Lopper.Tensors.Tensor.Format(newParams[j].Value.Shape)}");
                t.Span.CopyTo(newParams[j].Value.Span);
            }
        }
        return compact;
    }
}
