using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Structure;

namespace Lopper.Pruning.Snacs;

/// <summary>
/// One (parent, child) pair: the child is a convolution or linear layer whose weight is pruned by
/// connections, the parent is the node whose output channels the child reads.
/// </summary>
/// <param name="Index">Position in the pair list.</param>
/// <param name="Child">Node index of the child layer.</param>
/// <param name="Parent">Node index whose output gives the parent activations (the producing layer, or the add/ReLU
/// the child reads when a residual addition ties several producers together).</param>
/// <param name="ParentChannels">Channels of the parent space (= child input channels).</param>
/// <param name="ChildChannels">Child filters (output channels or features).</param>
/// <param name="InWidth">Child input features per parent channel (H*W after a flatten, else 1).</param>
/// <param name="ParentLayer">True when <paramref name="Parent"/> is a single producing conv/linear (raw output, before BN/ReLU).</param>
public sealed record LayerPair(int Index, int Child, int Parent, int ParentChannels, int ChildChannels, int InWidth, bool ParentLayer)
{
    /// <summary>Name of the child's weight parameter.</summary>
    public string Weight(ModelGraph graph) => graph.Nodes[Child].Name + ".weight";

    /// <summary>Readable label, e.g. "conv1->conv2".</summary>
    public string Label(ModelGraph graph) => graph.Nodes[Parent].Name + "->" + graph.Nodes[Child].Name;
}

/// <summary>
/// Finds the layer pairs by actual data flow (spec §12 item 11): the parent of a child is the producer of
/// the child's input channel space, not the previous layer in definition order. Where a residual addition
/// ties several producers into one space, no single layer owns the channels, so the parent activations are
/// taken from the tensor the child actually reads.
/// </summary>
public static class LayerPairs
{
    /// <summary>All prunable pairs in graph order. The first weight layer (reading the network input) is never a child.</summary>
    public static List<LayerPair> Find(ModelGraph graph, ChannelGroups groups)
    {
        var pairs = new List<LayerPair>();
        for (int i = 1; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            int childChannels;
            if (node.Op is Conv2dOp conv)
            {
                // A column-subset convolution has lost its [O, C, k, k] layout; connection masks cannot address it.
                if (conv.Columns is not null) continue;
                // Connection masks address [O, C, k, k] weights: grouped and depthwise filters have no such layout.
                if (conv.Groups != 1) continue;
                childChannels = conv.OutChannels;
            }
            else if (node.Op is LinearOp lin) childChannels = lin.OutFeatures;
            else continue;
            int in0 = node.InputIndices[0];
            // A layer reading a concatenation reads several groups at once; its channels have no single parent layer.
            if (groups.GroupOfNode[in0] < 0) continue;
            var space = groups.Groups[groups.GroupOfNode[in0]];
            if (space.Producers.Count == 0) continue; // reads the network input
            int width = groups.WidthOfNode[in0];
            bool single = space.Producers.Count == 1 && graph.Nodes[space.Producers[0]].Op is Conv2dOp or LinearOp;
            // For a flatten the activations are read before it, where each parent channel is still one map.
            int parent = single ? space.Producers[0] : UnflattenedSource(graph, in0);
            pairs.Add(new LayerPair(pairs.Count, i, parent, space.Channels, childChannels, width, single));
        }
        return pairs;
    }

    private static int UnflattenedSource(ModelGraph graph, int node)
    {
        while (graph.ChannelKindOf(graph.Nodes[node]) == ChannelMapKind.Flatten) node = graph.Nodes[node].InputIndices[0];
        return node;
    }

    /// <summary>
    /// Contiguous split of <paramref name="n"/> channels into min(<paramref name="groups"/>, n) blocks; block g is
    /// [floor(g·n/G), floor((g+1)·n/G)). The spec requires G to divide n; allowing sizes that differ by one
    /// keeps the method usable on widths such as LeNet's 6 and 84 and is identical when G divides n.
    /// </summary>
    public static int[] GroupStarts(int n, int groups)
    {
        int g = Math.Clamp(groups, 1, n);
        var starts = new int[g + 1];
        for (int i = 0; i <= g; i++) starts[i] = (int)((long)i * n / g);
        return starts;
    }
}
