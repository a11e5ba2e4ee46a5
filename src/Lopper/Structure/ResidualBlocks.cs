using Lopper.Graph;

namespace Lopper.Structure;

/// <summary>
/// A residual block found in the graph: an add of a branch (a chain of nodes from the block's entry) and
/// a shortcut (the entry itself, or a projection). Removing the block deletes the branch and the add;
/// the shortcut stays as it is.
/// </summary>
public sealed class ResidualBlock
{
    /// <summary>Index of the add node that closes the block.</summary>
    public int Add { get; init; }
    /// <summary>Index of the node both paths start from.</summary>
    public int Entry { get; init; }
    /// <summary>Input position (of the add) that carries the branch.</summary>
    public int BranchInput { get; init; }
    /// <summary>Index of the node the shortcut delivers to the add.</summary>
    public int ShortcutEnd { get; init; }
    /// <summary>Nodes of the branch, in graph order.</summary>
    public IReadOnlyList<int> Branch { get; init; } = [];
    /// <summary>True when the shortcut is a projection (changes shape), i.e. a down-sampling block.</summary>
    public bool Downsamples { get; init; }
    /// <summary>Readable name (the add node's name without its last part).</summary>
    public string Name { get; init; } = "";
}

/// <summary>Finds residual blocks generically: every two-input add whose branch is private to it.</summary>
public static class ResidualBlocks
{
    /// <summary>The removable residual blocks of a graph, in graph order.</summary>
    public static IReadOnlyList<ResidualBlock> Find(ModelGraph graph)
    {
        var consumers = graph.Consumers();
        var blocks = new List<ResidualBlock>();
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            if (node.InputIndices.Length != 2 || graph.ChannelKindOf(node) != ChannelMapKind.Tied) continue;
            var a = Ancestors(graph, node.InputIndices[0]);
            var b = Ancestors(graph, node.InputIndices[1]);
            int entry = a.Intersect(b).DefaultIfEmpty(-1).Max();
            if (entry < 0) continue;
            var pathA = a.Where(x => x > entry && Descends(graph, x, entry)).Order().ToList();
            var pathB = b.Where(x => x > entry && Descends(graph, x, entry)).Order().ToList();
            // The branch is the longer path: it holds the block's computation; the shortcut is identity or a projection.
            int branchInput = pathA.Count >= pathB.Count ? 0 : 1;
            var branch = branchInput == 0 ? pathA : pathB;
            var shortcut = branchInput == 0 ? pathB : pathA;
            if (branch.Count == 0) continue;
            var inside = new HashSet<int>(branch) { i };
            bool privateBranch = branch.All(x => consumers[x].All(inside.Contains));
            if (!privateBranch) continue;
            string name = node.Name.Contains('.') ? node.Name[..node.Name.LastIndexOf('.')] : node.Name;
            blocks.Add(new ResidualBlock
            {
                Add = i, Entry = entry, BranchInput = branchInput, ShortcutEnd = node.InputIndices[1 - branchInput],
                Branch = branch, Downsamples = shortcut.Count > 0, Name = name,
            });
        }
        return blocks;
    }

    private static HashSet<int> Ancestors(ModelGraph g, int start)
    {
        var seen = new HashSet<int>();
        var stack = new Stack<int>();
        stack.Push(start);
        while (stack.Count > 0)
        {
            int x = stack.Pop();
            if (!seen.Add(x)) continue;
            foreach (int p in g.Nodes[x].InputIndices) stack.Push(p);
        }
        return seen;
    }

    private static bool Descends(ModelGraph g, int node, int from) => Ancestors(g, node).Contains(from);
}
