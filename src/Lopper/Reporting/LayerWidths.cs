using Lopper.Graph;

namespace Lopper.Reporting;

/// <summary>Output width (channels or features) of one convolution or linear layer before and after pruning.</summary>
/// <param name="Layer">Node name.</param>
/// <param name="Before">Width in the source model.</param>
/// <param name="After">Width in the pruned model; 0 when the layer was removed (e.g. a deleted residual block).</param>
public sealed record LayerWidth(string Layer, int Before, int After);

/// <summary>Compares the conv/linear output widths of a pruned graph with its source, layer by layer in source order.</summary>
public static class LayerWidths
{
    /// <summary>Widths of every conv2d and linear node of <paramref name="source"/>, matched by name in <paramref name="pruned"/>.</summary>
    public static IReadOnlyList<LayerWidth> Compare(ModelGraph source, ModelGraph pruned)
    {
        var list = new List<LayerWidth>();
        foreach (var node in source.Nodes)
        {
            if (node.Op.Type is not ("conv2d" or "linear")) continue;
            int after = pruned.IndexOf(node.Name) is int i and >= 0 ? pruned.Nodes[i].OutputShape[1] : 0;
            // Output shapes carry the batch of one first: [1, C, H, W] or [1, F].
            list.Add(new LayerWidth(node.Name, node.OutputShape[1], after));
        }
        return list;
    }

    /// <summary>Loads two model.json files and compares them.</summary>
    public static IReadOnlyList<LayerWidth> Compare(string sourceModelJson, string prunedModelJson)
        => Compare(ModelJson.Load(sourceModelJson), ModelJson.Load(prunedModelJson));
}
