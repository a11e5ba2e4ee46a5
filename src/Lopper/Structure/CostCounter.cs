using Lopper.Graph;

namespace Lopper.Structure;

/// <summary>Parameters and multiply-accumulates of one node.</summary>
/// <param name="Name">Node name.</param>
/// <param name="Op">Op type.</param>
/// <param name="OutputShape">Output shape, batch 1.</param>
/// <param name="Params">Trainable parameter values the node owns.</param>
/// <param name="Macs">Multiply-accumulates for one image.</param>
public sealed record LayerCost(string Name, string Op, int[] OutputShape, long Params, long Macs);

/// <summary>Counts parameters and MACs per layer and in total (convolutions and linear layers carry the MACs).</summary>
public static class CostCounter
{
    /// <summary>Per-node costs in graph order (the input node excluded).</summary>
    public static IReadOnlyList<LayerCost> Layers(ModelGraph graph)
    {
        var list = new List<LayerCost>();
        for (int i = 1; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            var shapes = graph.InputShapesOf(node);
            long p = 0;
            foreach (var spec in node.Op.Parameters(shapes))
                if (spec.Trainable) p += Lopper.Tensors.Tensor.Numel(spec.Shape);
            list.Add(new LayerCost(node.Name, node.Op.Type, node.OutputShape, p, node.Op.Macs(shapes)));
        }
        return list;
    }

    /// <summary>Total trainable parameters and MACs.</summary>
    public static (long Params, long Macs) Totals(ModelGraph graph)
    {
        long p = 0, m = 0;
        foreach (var l in Layers(graph)) { p += l.Params; m += l.Macs; }
        return (p, m);
    }
}
