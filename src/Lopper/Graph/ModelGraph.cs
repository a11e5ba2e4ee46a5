using Lopper.Tensors;
using Lopper.Graph.Ops;

namespace Lopper.Graph;

/// <summary>
/// A network as a directed acyclic graph of nodes in topological order. Node 0 is the input; the last
/// node is the output (logits). Construction checks names, order, arity and shapes.
/// </summary>
public sealed class ModelGraph
{
    private readonly Dictionary<string, int> _index = new();

    /// <summary>Architecture name (e.g. "resnet20", or "resnet20-pruned").</summary>
    public string Name { get; }

    /// <summary>Nodes in execution order; node 0 is the input.</summary>
    public IReadOnlyList<Node> Nodes { get; }

    /// <summary>Per-sample input shape (C, H, W).</summary>
    public int[] InputShape { get; }

    /// <summary>Throws a <see cref="LopperInputException"/> unless <paramref name="shape"/> is [N, ...<see cref="InputShape"/>].</summary>
    public void CheckBatchShape(int[] shape)
    {
        if (shape.Length != InputShape.Length + 1 || !shape.AsSpan(1).SequenceEqual(InputShape))
            throw new LopperInputException($"input shape {Tensor.Format(shape)} does not match the model's {Tensor.Format(InputShape)} (plus batch)");
    }

    /// <summary>Number of output classes (last dimension of the output).</summary>
    public int Classes => Nodes[^1].OutputShape[^1];

    /// <summary>Builds and validates a graph.</summary>
    public ModelGraph(string name, IReadOnlyList<Node> nodes)
    {
        Name = name;
        Nodes = nodes;
        if (nodes.Count < 2 || nodes[0].Op is not InputOp input)
            throw new LopperInputException($"model {name}: the first node must be an input");
        InputShape = input.Shape;
        for (int i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            if (i > 0 && node.Op is InputOp) throw new LopperInputException($"model {name}: node {node.Name} is a second input (only the first node may be an input)");
            if (!_index.TryAdd(node.Name, i)) throw new LopperInputException($"model {name}: duplicate node name '{node.Name}'");
            if (node.Op.Arity >= 0 && node.Inputs.Length != node.Op.Arity && i > 0)
                throw new LopperInputException($"node {node.Name}: op {node.Op.Type} takes {node.Op.Arity} input(s), got {node.Inputs.Length}");
            if (node.Op.Arity < 0 && node.Inputs.Length < 2)
                throw new LopperInputException($"node {node.Name}: op {node.Op.Type} needs at least 2 inputs");
            var idx = new int[node.Inputs.Length];
            var shapes = new int[node.Inputs.Length][];
            for (int j = 0; j < idx.Length; j++)
            {
                if (!_index.TryGetValue(node.Inputs[j], out idx[j]) || idx[j] >= i)
                    throw new LopperInputException($"node {node.Name}: input '{node.Inputs[j]}' is not an earlier node");
                shapes[j] = nodes[idx[j]].OutputShape;
            }
            node.InputIndices = idx;
            try
            {
                node.OutputShape = i == 0 ? [1, .. input.Shape] : node.Op.OutputShape(shapes);
            }
            catch (LopperInputException e)
            {
                throw new LopperInputException($"node {node.Name}: {e.Message}");
            }
            catch (Exception e) when (e is ArithmeticException or ArgumentException)
            {
                // Attributes the op accepted but whose shapes do not compute (e.g. an overflow) are the file's fault.
                throw new LopperInputException($"node {node.Name}: op {node.Op.Type} cannot compute its output shape from {string.Join(" and ", shapes.Select(s => Tensor.Format(s)))}: {e.Message}");
            }
        }
    }

    /// <summary>Position of a node by name, or -1.</summary>
    public int IndexOf(string nodeName) => _index.TryGetValue(nodeName, out int i) ? i : -1;

    /// <summary>A node by name.</summary>
    public Node this[string nodeName] => Nodes[_index[nodeName]];

    /// <summary>Input shapes (batch 1) of a node.</summary>
    public int[][] InputShapesOf(Node node)
    {
        var s = new int[node.InputIndices.Length][];
        for (int j = 0; j < s.Length; j++) s[j] = Nodes[node.InputIndices[j]].OutputShape;
        return s;
    }

    /// <summary>How input <paramref name="input"/> of <paramref name="node"/> maps its channels onto the node's output.</summary>
    public ChannelMap ChannelMapOf(Node node, int input = 0) => node.Op.MapChannels(input, InputShapesOf(node));

    /// <summary>The kind of <see cref="ChannelMapOf"/> (a node without inputs, the network input, starts a space: <see cref="ChannelMapKind.Produces"/>).</summary>
    public ChannelMapKind ChannelKindOf(Node node, int input = 0) => node.InputIndices.Length == 0 ? ChannelMapKind.Produces : ChannelMapOf(node, input).Kind;

    /// <summary>For each node, the indices of the nodes that read it.</summary>
    public List<int>[] Consumers()
    {
        var c = new List<int>[Nodes.Count];
        for (int i = 0; i < c.Length; i++) c[i] = new List<int>();
        for (int i = 0; i < Nodes.Count; i++)
            foreach (int j in Nodes[i].InputIndices) c[j].Add(i);
        return c;
    }

    /// <summary>Multiply-accumulates of one image, summed over nodes.</summary>
    public long Macs()
    {
        long total = 0;
        foreach (var n in Nodes) if (n.InputIndices.Length > 0) total += n.Op.Macs(InputShapesOf(n));
        return total;
    }
}
