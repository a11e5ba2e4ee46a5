using Lopper.Graph;

namespace Lopper.Structure;

/// <summary>
/// Removes residual blocks. <see cref="Mask"/> zeroes every branch parameter (a conv without bias and a
/// batch-norm with zero scale and shift output exactly zero, so the add passes the shortcut through);
/// <see cref="Compact"/> deletes the branch and the add and wires the add's readers to the shortcut.
/// </summary>
public static class BlockSurgery
{
    /// <summary>Zeroes the branch parameters of the given blocks (the model keeps its shape).</summary>
    public static void Mask(Model model, IEnumerable<ResidualBlock> blocks)
    {
        foreach (var b in blocks)
            foreach (int n in b.Branch)
                foreach (var p in model.NodeParameters[n])
                    if (p.Trainable) p.Value.Span.Clear();
    }

    /// <summary>A new model without the given blocks; other weights are copied unchanged.</summary>
    public static Model Compact(Model model, IReadOnlyCollection<ResidualBlock> blocks, string? name = null)
    {
        var graph = model.Graph;
        var drop = new HashSet<int>();
        var rename = new Dictionary<string, string>();
        foreach (var b in blocks)
        {
            foreach (int n in b.Branch) drop.Add(n);
            drop.Add(b.Add);
            rename[graph.Nodes[b.Add].Name] = graph.Nodes[b.ShortcutEnd].Name;
        }
        string Resolve(string s) { while (rename.TryGetValue(s, out var t)) s = t; return s; }
        var nodes = new List<Node>();
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            if (drop.Contains(i)) continue;
            var n = graph.Nodes[i];
            nodes.Add(new Node(n.Name, n.Op, n.Inputs.Select(Resolve).ToArray()));
        }
        var compact = new Model(new ModelGraph(name ?? graph.Name, nodes));
        foreach (var p in compact.Parameters) model.Find(p.Name)!.Value.Span.CopyTo(p.Value.Span);
        return compact;
    }
}
