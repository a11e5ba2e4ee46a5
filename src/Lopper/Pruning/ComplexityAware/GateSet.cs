using Lopper.Graph;
using Lopper.Graph.Ops;

namespace Lopper.Pruning.ComplexityAware;

/// <summary>One logical gate vector: every gate node with one key (they share theta, samples and test state).</summary>
public sealed class LogicalGate
{
    /// <summary>The key ("unit:GROUP" or "block:NAME").</summary>
    public required string Key { get; init; }
    /// <summary>True for a residual-block gate.</summary>
    public bool IsBlock => Key.StartsWith(GateOp.BlockPrefix, StringComparison.Ordinal);
    /// <summary>Gate nodes (indices in the graph) carrying this key.</summary>
    public required int[] Nodes { get; init; }
    /// <summary>Number of gates (channels of the group, or 1).</summary>
    public required int Size { get; init; }
    /// <summary>Block name for block gates.</summary>
    public string BlockName => IsBlock ? Key[GateOp.BlockPrefix.Length..] : "";
}

/// <summary>The logical gates of a gated model, with reads and writes that keep every node of a key in step.</summary>
public sealed class GateSet
{
    /// <summary>The model the indices refer to.</summary>
    public Model Model { get; }
    /// <summary>Logical gates in graph order of their first node.</summary>
    public IReadOnlyList<LogicalGate> Gates { get; }

    private GateSet(Model model, IReadOnlyList<LogicalGate> gates)
    {
        Model = model;
        Gates = gates;
    }

    /// <summary>Collects the gates of <paramref name="model"/>.</summary>
    public static GateSet Of(Model model)
    {
        var byKey = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var order = new List<string>();
        var nodes = model.Graph.Nodes;
        for (int i = 0; i < nodes.Count; i++)
        {
            if (nodes[i].Op is not GateOp g) continue;
            if (!byKey.TryGetValue(g.Key, out var l)) { byKey[g.Key] = l = new(); order.Add(g.Key); }
            l.Add(i);
        }
        var gates = new List<LogicalGate>();
        foreach (var k in order)
        {
            var idx = byKey[k].ToArray();
            int size = ((GateOp)nodes[idx[0]].Op).Gates;
            foreach (int i in idx)
                if (((GateOp)nodes[i].Op).Gates != size) throw new LopperInputException($"gate {k}: its nodes disagree on the number of gates");
            gates.Add(new LogicalGate { Key = k, Nodes = idx, Size = size });
        }
        return new GateSet(model, gates);
    }

    /// <summary>Parameter <paramref name="index"/> (see <see cref="GateOp.ThetaIndex"/>) of the first node of a gate.</summary>
    public Span<float> Read(LogicalGate g, int index) => Model.NodeParameters[g.Nodes[0]][index].Value.Span;

    /// <summary>Copies the first node's parameter <paramref name="index"/> to the other nodes of the gate.</summary>
    public void Sync(LogicalGate g, int index)
    {
        var src = Read(g, index);
        for (int k = 1; k < g.Nodes.Length; k++) src.CopyTo(Model.NodeParameters[g.Nodes[k]][index].Value.Span);
    }

    /// <summary>Sum over the gate's nodes of theta's gradient (chain rule for one sample shared by several nodes).</summary>
    public void GradientSum(LogicalGate g, Span<float> into)
    {
        into.Clear();
        foreach (int n in g.Nodes)
            if (Model.NodeParameters[n][GateOp.ThetaIndex].Grad is { } grad) TensorPrimitives.Add(into, grad.Span, into);
    }
}
