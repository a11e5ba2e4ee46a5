using Lopper.Graph;

namespace Lopper.Structure;

/// <summary>
/// Channel-dependency analysis driven only by each op's <see cref="ChannelRule"/> and its parameters'
/// channel axes: a producing op starts a space, pass-through ops inherit it, an add merges the spaces of
/// its inputs, a flatten widens each channel to H*W features. The resulting spaces are the pruning groups.
/// </summary>
public sealed class ChannelGroups
{
    /// <summary>All groups, prunable or not.</summary>
    public IReadOnlyList<PruningGroup> Groups { get; }

    /// <summary>Group of each node's output (-1 for none).</summary>
    public int[] GroupOfNode { get; }

    /// <summary>Features per channel of each node's output (H*W after a flatten, else 1).</summary>
    public int[] WidthOfNode { get; }

    private ChannelGroups(IReadOnlyList<PruningGroup> groups, int[] groupOfNode, int[] widthOfNode)
    {
        Groups = groups;
        GroupOfNode = groupOfNode;
        WidthOfNode = widthOfNode;
    }

    /// <summary>The prunable groups.</summary>
    public IEnumerable<PruningGroup> Prunable => Groups.Where(g => g.Prunable);

    /// <summary>Analyses a graph. Fails naming the op when a node has no channel rule.</summary>
    public static ChannelGroups Analyze(ModelGraph graph)
    {
        int n = graph.Nodes.Count;
        var space = new int[n];
        var width = new int[n];
        var parent = new List<int>();
        var size = new List<int>();
        int NewSpace(int channels) { parent.Add(parent.Count); size.Add(channels); return parent.Count - 1; }
        int Find(int s) { while (parent[s] != s) s = parent[s] = parent[parent[s]]; return s; }
        var pending = new List<(int Space, GroupSlice Slice)>();
        int inputSpace = -1;
        var lockedSpaces = new List<(int Space, string Why)>();

        for (int i = 0; i < n; i++)
        {
            var node = graph.Nodes[i];
            var op = node.Op;
            int in0 = node.InputIndices.Length > 0 ? node.InputIndices[0] : -1;
            switch (op.ChannelRule)
            {
                case ChannelRule.Input:
                    space[i] = inputSpace = NewSpace(node.OutputShape[1]);
                    width[i] = 1;
                    break;
                case ChannelRule.Produces:
                    space[i] = NewSpace(node.OutputShape[1]);
                    width[i] = 1;
                    break;
                case ChannelRule.PassThrough:
                    space[i] = space[in0];
                    width[i] = width[in0];
                    break;
                case ChannelRule.Ties:
                    space[i] = space[in0];
                    width[i] = width[in0];
                    foreach (int j in node.InputIndices)
                    {
                        if (width[j] != width[in0]) throw new LopperInputException($"node {node.Name}: add joins inputs of different channel widths");
                        int a = Find(space[j]), b = Find(space[in0]);
                        if (a != b) parent[Math.Max(a, b)] = Math.Min(a, b);
                    }
                    break;
                case ChannelRule.Flattens:
                    {
                        var s = graph.Nodes[in0].OutputShape;
                        int spatial = 1;
                        for (int d = 2; d < s.Length; d++) spatial *= s[d];
                        space[i] = space[in0];
                        width[i] = width[in0] * spatial;
                        break;
                    }
                default:
                    throw new LopperInputException($"node {node.Name}: op '{op.Type}' has no channel rule, so the graph cannot be pruned");
            }
            if (i == 0) continue;
            if (op.LocksInputChannels) lockedSpaces.Add((space[in0], $"read by {node.Name}, whose kernel columns were pruned"));
            var specs = op.Parameters(graph.InputShapesOf(node));
            foreach (var spec in specs)
            {
                string name = $"{node.Name}.{spec.Name}";
                if (spec.OutAxis >= 0)
                    pending.Add((space[i], new GroupSlice(name, i, spec.OutAxis, op.ChannelRule == ChannelRule.Produces ? 1 : width[i], false)));
                if (spec.InAxis >= 0)
                    pending.Add((space[in0], new GroupSlice(name, i, spec.InAxis, width[in0], true)));
            }
        }

        var groupOfRoot = new Dictionary<int, PruningGroup>();
        var groups = new List<PruningGroup>();
        PruningGroup GroupOf(int s)
        {
            int r = Find(s);
            if (!groupOfRoot.TryGetValue(r, out var g))
            {
                g = new PruningGroup { Id = groups.Count, Channels = size[r] };
                groupOfRoot[r] = g;
                groups.Add(g);
            }
            return g;
        }
        var groupOfNode = new int[n];
        for (int i = 0; i < n; i++)
        {
            var g = GroupOf(space[i]);
            groupOfNode[i] = g.Id;
            g.Members.Add(i);
            if (graph.Nodes[i].Op.ChannelRule == ChannelRule.Produces) g.Producers.Add(i);
        }
        foreach (var (s, slice) in pending) GroupOf(s).Slices.Add(slice);
        GroupOf(inputSpace).Locked = "network input";
        foreach (var (s, why) in lockedSpaces) GroupOf(s).Locked ??= why;
        var output = groups[groupOfNode[n - 1]];
        output.Locked ??= "classifier output";
        foreach (var g in groups)
            g.Name = g.Producers.Count == 0 ? "input" : string.Join("+", g.Producers.Select(p => graph.Nodes[p].Name));
        return new ChannelGroups(groups, groupOfNode, width);
    }
}
