using Lopper.Graph;
using Lopper.Structure;

namespace Lopper.Pruning.SrInit;

/// <summary>
/// Stochastic re-initialisation of one residual block (SR-init, Tang et al. 2023): every parameter of the
/// block, batch-norm running statistics included, is overwritten with the value it has in a freshly
/// initialised donor model of the same graph, and can later be put back exactly.
/// </summary>
public static class BlockReinit
{
    /// <summary>
    /// The nodes whose parameters belong to <paramref name="block"/>: its branch plus, for a down-sampling
    /// block, the projection shortcut (the nodes between the entry and the add on the shortcut path), in graph order.
    /// </summary>
    public static IReadOnlyList<int> Nodes(ModelGraph graph, ResidualBlock block)
    {
        var nodes = new SortedSet<int>(block.Branch);
        if (block.ShortcutEnd != block.Entry)
        {
            var fromEntry = Descendants(graph, block.Entry, block.Add);
            var stack = new Stack<int>();
            stack.Push(block.ShortcutEnd);
            while (stack.Count > 0)
            {
                int x = stack.Pop();
                // Only nodes fed by the entry are the projection; anything else reaching the shortcut
                // (there is nothing in the zoo, but a graph could) is not part of this block.
                if (x <= block.Entry || !fromEntry.Contains(x) || !nodes.Add(x)) continue;
                foreach (int p in graph.Nodes[x].InputIndices) stack.Push(p);
            }
        }
        return nodes.ToList();
    }

    /// <summary>
    /// Overwrites the parameters of <paramref name="block"/> in <paramref name="model"/> with those of
    /// <paramref name="donor"/> (same graph) and returns what is needed to undo it.
    /// </summary>
    /// <exception cref="ArgumentException">The donor's graph does not match.</exception>
    public static BlockSnapshot Apply(Model model, Model donor, ResidualBlock block)
    {
        var snapshot = BlockSnapshot.Take(model, Nodes(model.Graph, block));
        foreach (var p in snapshot.Parameters)
        {
            var d = donor.Find(p.Name) ?? throw new ArgumentException($"donor model has no parameter {p.Name}", nameof(donor));
            if (d.Value.Length != p.Value.Length) throw new ArgumentException($"donor parameter {p.Name} has {d.Value.Length} values, the model {p.Value.Length}", nameof(donor));
            d.Value.Span.CopyTo(p.Value.Span);
        }
        return snapshot;
    }

    private static HashSet<int> Descendants(ModelGraph graph, int from, int before)
    {
        var consumers = graph.Consumers();
        var seen = new HashSet<int>();
        var stack = new Stack<int>();
        stack.Push(from);
        while (stack.Count > 0)
        {
            int x = stack.Pop();
            if (x >= before || !seen.Add(x)) continue;
            foreach (int c in consumers[x]) stack.Push(c);
        }
        return seen;
    }
}

/// <summary>Copies of some parameters' values, to put back after a temporary change.</summary>
public sealed class BlockSnapshot
{
    private readonly float[][] _values;

    private BlockSnapshot(Parameter[] parameters)
    {
        Parameters = parameters;
        _values = parameters.Select(p => p.Value.Span.ToArray()).ToArray();
    }

    /// <summary>The parameters saved, trainable or not.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Saves every parameter of the given nodes.</summary>
    public static BlockSnapshot Take(Model model, IEnumerable<int> nodes) =>
        new(nodes.SelectMany(n => model.NodeParameters[n]).ToArray());

    /// <summary>Writes the saved values back, bit for bit.</summary>
    public void Restore()
    {
        for (int i = 0; i < _values.Length; i++) _values[i].AsSpan().CopyTo(Parameters[i].Value.Span);
    }
}
