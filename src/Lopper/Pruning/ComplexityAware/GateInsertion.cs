using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Structure;

namespace Lopper.Pruning.ComplexityAware;

/// <summary>
/// Puts Bernoulli gates into a plain model (spec 2.2): one unit gate per channel of every prunable
/// channel group (a residual stage's coupled channels share one gate, whose nodes sit after each of the
/// group's producers) and one block gate on the branch of every residual block. A gate goes at the end of its
/// producer's pass-through chain (after batch-norm, ReLU, pooling), so a gate at 0 makes the channel exactly 0
/// everywhere it is read, and deleting the channel changes nothing. All gates start at theta = 1.
/// </summary>
public static class GateInsertion
{
    /// <summary>True when the model already has gates.</summary>
    public static bool HasGates(Model model) => model.Graph.Nodes.Any(n => n.Op is GateOp);

    /// <summary>A copy of <paramref name="model"/> with gates (weights copied by name); <paramref name="batch"/> sizes the mask buffers.</summary>
    public static Model Insert(Model model, int batch, bool gateDownsampling = true)
    {
        var graph = model.Graph;
        if (HasGates(model)) throw new InvalidOperationException($"{graph.Name} already has gates");
        var groups = ChannelGroups.Analyze(graph);
        var consumers = graph.Consumers();
        var after = new Dictionary<int, List<(string Name, Op Op)>>();
        void At(int node, string name, Op op)
        {
            if (!after.TryGetValue(node, out var l)) after[node] = l = new();
            l.Add((name, op));
        }

        foreach (var g in groups.Prunable)
        {
            // A group of one channel cannot lose a unit (at least one must survive).
            if (g.Channels < 2) continue;
            string key = "unit:" + g.Name;
            foreach (int p in g.Producers)
            {
                int end = ChainEnd(graph, consumers, p);
                At(end, graph.Nodes[end].Name + ".gate", new GateOp(g.Channels, g.Channels, batch, key));
            }
        }
        foreach (var b in ResidualBlocks.Find(graph))
        {
            if (b.Downsamples && !gateDownsampling) continue;
            int end = graph.Nodes[b.Add].InputIndices[b.BranchInput];
            // Block gates come after any unit gate on the same node (both are 0/1 multipliers; order is immaterial).
            At(end, b.Name + ".gate", new GateOp(1, graph.Nodes[end].OutputShape[1], batch, GateOp.BlockPrefix + b.Name));
        }

        var nodes = new List<Node>();
        var rename = new Dictionary<string, string>(StringComparer.Ordinal);
        string R(string s) => rename.GetValueOrDefault(s, s);
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var n = graph.Nodes[i];
            nodes.Add(new Node(n.Name, n.Op, n.Inputs.Select(R).ToArray()));
            if (!after.TryGetValue(i, out var gates)) continue;
            string prev = n.Name;
            foreach (var (name, op) in gates)
            {
                nodes.Add(new Node(name, op, prev));
                prev = name;
            }
            rename[n.Name] = prev;
        }
        var gated = new Model(new ModelGraph(graph.Name, nodes));
        foreach (var p in model.Parameters) p.Value.Span.CopyTo(gated.Find(p.Name)!.Value.Span);
        return gated;
    }

    /// <summary>Last node of the single-reader pass-through chain that starts at producer <paramref name="p"/>.</summary>
    private static int ChainEnd(ModelGraph graph, List<int>[] consumers, int p)
    {
        int end = p;
        while (consumers[end].Count == 1 && graph.ChannelKindOf(graph.Nodes[consumers[end][0]]) == ChannelMapKind.PassThrough)
            end = consumers[end][0];
        return end;
    }
}
