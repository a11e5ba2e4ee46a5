using Lopper.Graph;

namespace Lopper.Structure;

/// <summary>
/// Channel-dependency analysis driven only by each op's <see cref="ChannelMap"/> per input and its parameters'
/// channel axes (DepGraph-style). Every output channel of every node is an element of one union-find; each
/// map unites output channel j with the input channel it comes from (and unites coupled input channels), so
/// an element class is one prunable unit: everything that must go when one channel goes. Units are then
/// gathered into groups: the units a node creates (channels no input maps to: a convolution's filters) form
/// one group, and units merged by ties, gates, depthwise convolutions or shuffles merge their groups. A node
/// may hold channels of several groups (a concat); each of its channels knows its (group, channel) pair, and
/// parameter slices carry explicit block starts when a group sits at an offset.
/// </summary>
public sealed class ChannelGroups
{
    private readonly int[][] _groupAt, _channelAt;
    private readonly (int Group, int PerChannel, int Total)[][] _composition;

    /// <summary>All groups, prunable or not.</summary>
    public IReadOnlyList<PruningGroup> Groups { get; }

    /// <summary>Group of each node's output, or -1 when its channels come from several groups (a concat).</summary>
    public int[] GroupOfNode { get; }

    /// <summary>Output channels per group channel of each node (H*W after a flatten, the multiplier after a depthwise convolution, else 1; 0 for a node of several groups).</summary>
    public int[] WidthOfNode { get; }

    private ChannelGroups(IReadOnlyList<PruningGroup> groups, int[] groupOfNode, int[] widthOfNode, int[][] groupAt, int[][] channelAt, (int, int, int)[][] composition)
    {
        Groups = groups;
        GroupOfNode = groupOfNode;
        WidthOfNode = widthOfNode;
        _groupAt = groupAt;
        _channelAt = channelAt;
        _composition = composition;
    }

    /// <summary>The prunable groups.</summary>
    public IEnumerable<PruningGroup> Prunable => Groups.Where(g => g.Prunable);

    /// <summary>Group of output channel <paramref name="channel"/> of node <paramref name="node"/>.</summary>
    public int GroupAt(int node, int channel) => _groupAt[node][channel];

    /// <summary>Channel, within its group, of output channel <paramref name="channel"/> of node <paramref name="node"/>.</summary>
    public int ChannelAt(int node, int channel) => _channelAt[node][channel];

    /// <summary>The output channels of <paramref name="node"/> that survive <paramref name="selection"/>, ascending, or null when all do.</summary>
    public int[]? KeptChannels(int node, ChannelSelection selection)
    {
        var groupAt = _groupAt[node];
        var channelAt = _channelAt[node];
        var keptSets = new Dictionary<int, HashSet<int>?>();
        bool any = false;
        foreach (var (g, _, _) in _composition[node])
        {
            var k = selection.Kept(g);
            keptSets[g] = k is null ? null : new HashSet<int>(k);
            any |= k is not null;
        }
        if (!any) return null;
        var kept = new List<int>(groupAt.Length);
        for (int j = 0; j < groupAt.Length; j++)
            if (keptSets[groupAt[j]] is not { } set || set.Contains(channelAt[j])) kept.Add(j);
        return kept.ToArray();
    }

    /// <summary>Output channels of <paramref name="node"/> when each group g keeps <paramref name="keptCount"/>(g) channels.</summary>
    public int KeptCount(int node, Func<int, int> keptCount)
    {
        int n = 0;
        // An irregular group is locked, so it keeps all its channels there.
        foreach (var (g, per, total) in _composition[node]) n += per == 0 ? total : keptCount(g) * per;
        return n;
    }

    /// <summary>Analyses a graph. Fails naming the op and node when a node's channel map is opaque.</summary>
    public static ChannelGroups Analyze(ModelGraph graph)
    {
        int n = graph.Nodes.Count;
        var start = new int[n + 1];
        for (int i = 0; i < n; i++) start[i + 1] = start[i] + graph.Nodes[i].OutputShape[1];
        var unit = new UnionFind(start[n]);
        var created = new bool[start[n]];
        var locks = new List<(int Node, string Why)>();
        var groupLocks = new List<(int Group, string Why)>();

        for (int i = 0; i < n; i++)
        {
            var node = graph.Nodes[i];
            int outC = start[i + 1] - start[i];
            var mapped = new bool[outC];
            var shapes = graph.InputShapesOf(node);
            for (int k = 0; k < node.InputIndices.Length; k++)
            {
                int src = node.InputIndices[k];
                int inC = start[src + 1] - start[src];
                var map = node.Op.MapChannels(k, shapes);
                if (map.Kind == ChannelMapKind.Opaque)
                    throw new LopperInputException($"node {node.Name}: op '{node.Op.Type}' cannot map its channels ({map.Reason}), so the graph cannot be pruned");
                if (map.Kind == ChannelMapKind.Locked)
                {
                    locks.Add((src, $"{map.Reason} (node {node.Name})"));
                    locks.Add((i, $"{map.Reason} (node {node.Name})"));
                }
                if (map.Source is { } source)
                {
                    if (source.Length != outC) throw new InvalidOperationException($"node {node.Name}: channel map of input {k} covers {source.Length} outputs, the op has {outC}");
                    for (int j = 0; j < outC; j++)
                    {
                        if (source[j] < 0) continue;
                        if (source[j] >= inC) throw new InvalidOperationException($"node {node.Name}: channel map of input {k} reads channel {source[j]} of {inC}");
                        unit.Union(start[i] + j, start[src] + source[j]);
                        mapped[j] = true;
                    }
                }
                foreach (var set in map.Coupled ?? [])
                    for (int t = 1; t < set.Length; t++) unit.Union(start[src] + set[0], start[src] + set[t]);
            }
            for (int j = 0; j < outC; j++) created[start[i] + j] = !mapped[j];
        }

        // Groups: a unit class, plus every unit a node creates joined with its siblings.
        var group = unit.Clone();
        for (int i = 0; i < n; i++)
        {
            int first = -1;
            for (int p = start[i]; p < start[i + 1]; p++)
                if (created[p]) { if (first < 0) first = p; else group.Union(first, p); }
        }

        var groups = new List<PruningGroup>();
        var groupOfRoot = new int[start[n]];
        var channelOfUnit = new int[start[n]];
        Array.Fill(groupOfRoot, -1);
        Array.Fill(channelOfUnit, -1);
        var channelCount = new List<int>();
        var groupAt = new int[n][];
        var channelAt = new int[n][];
        for (int i = 0; i < n; i++)
        {
            int outC = start[i + 1] - start[i];
            groupAt[i] = new int[outC];
            channelAt[i] = new int[outC];
            for (int j = 0; j < outC; j++)
            {
                int p = start[i] + j;
                int gr = group.Find(p);
                int g = groupOfRoot[gr];
                if (g < 0) { g = groupOfRoot[gr] = channelCount.Count; channelCount.Add(0); }
                int u = unit.Find(p);
                int c = channelOfUnit[u];
                if (c < 0) c = channelOfUnit[u] = channelCount[g]++;
                groupAt[i][j] = g;
                channelAt[i][j] = c;
            }
        }
        for (int g = 0; g < channelCount.Count; g++) groups.Add(new PruningGroup { Id = g, Channels = channelCount[g] });

        var layouts = new Layout[n];
        var groupOfNode = new int[n];
        var width = new int[n];
        var composition = new (int, int, int)[n][];
        for (int i = 0; i < n; i++)
        {
            var layout = layouts[i] = new Layout(groupAt[i], channelAt[i], groups);
            composition[i] = layout.Composition;
            foreach (var (g, _, _) in layout.Composition) groups[g].Members.Add(i);
            groupOfNode[i] = layout.Composition.Length == 1 ? layout.Composition[0].Group : -1;
            width[i] = layout.Composition.Length == 1 ? layout.Composition[0].PerChannel : 0;
            foreach (var (g, why) in layout.Irregular) groupLocks.Add((g, $"{why} (node {graph.Nodes[i].Name})"));
            if (i > 0)
                for (int p = start[i]; p < start[i + 1]; p++)
                    if (created[p]) { groups[groupAt[i][p - start[i]]].Producers.Add(i); break; }
        }

        for (int i = 1; i < n; i++)
        {
            var node = graph.Nodes[i];
            var op = node.Op;
            int in0 = node.InputIndices.Length > 0 ? node.InputIndices[0] : -1;
            if (op.LocksInputChannels) locks.Add((in0, $"read by {node.Name}, whose kernel columns were pruned"));
            foreach (var spec in op.Parameters(graph.InputShapesOf(node)))
            {
                string name = $"{node.Name}.{spec.Name}";
                if (spec.OutAxis >= 0) layouts[i].AddSlices(groups, name, i, spec, spec.OutAxis, false);
                if (spec.InAxis >= 0) layouts[in0].AddSlices(groups, name, i, spec, spec.InAxis, true);
            }
        }

        foreach (var (g, _, _) in composition[0]) groups[g].Locked = "network input";
        foreach (var (node, why) in locks)
            foreach (var (g, _, _) in composition[node]) groups[g].Locked ??= why;
        foreach (var (g, why) in groupLocks) groups[g].Locked ??= why;
        foreach (var (g, _, _) in composition[n - 1]) groups[g].Locked ??= "classifier output";
        foreach (var g in groups)
            g.Name = g.Producers.Count == 0 ? "input" : string.Join("+", g.Producers.Select(p => graph.Nodes[p].Name));
        return new ChannelGroups(groups, groupOfNode, width, groupAt, channelAt, composition);
    }

    /// <summary>
    /// Where each group's channels sit in one node's output: for every group, the runs of consecutive output
    /// channels each group channel occupies. A group whose channels do not all occupy runs of the same lengths
    /// cannot be sliced by blocks and is locked.
    /// </summary>
    private sealed class Layout
    {
        private readonly Dictionary<int, (int[] Widths, int[][] Starts)> _runs = new();

        public (int Group, int PerChannel, int Total)[] Composition { get; }
        private readonly int _length;
        public List<(int Group, string Why)> Irregular { get; } = new();

        public Layout(int[] groupAt, int[] channelAt, List<PruningGroup> groups)
        {
            _length = groupAt.Length;
            if (IsPlain(groupAt, channelAt, groups, out int width))
            {
                // The common case, without allocation per channel: one group, channel c at [c*width, (c+1)*width).
                int g0 = groupAt[0];
                Composition = [(g0, width, _length)];
                _runs[g0] = ([width], [null!]);
                return;
            }
            var positions = new Dictionary<int, List<int>[]>();
            for (int j = 0; j < groupAt.Length; j++)
            {
                int g = groupAt[j];
                if (!positions.TryGetValue(g, out var perChannel)) positions[g] = perChannel = new List<int>[groups[g].Channels];
                (perChannel[channelAt[j]] ??= new List<int>()).Add(j);
            }
            var composition = new List<(int, int, int)>();
            foreach (var (g, perChannel) in positions)
            {
                var widths = Runs(perChannel[0], out _);
                var starts = new int[widths.Count][];
                for (int r = 0; r < starts.Length; r++) starts[r] = new int[perChannel.Length];
                bool regular = true;
                for (int c = 0; c < perChannel.Length && regular; c++)
                {
                    if (perChannel[c] is null) { regular = false; break; }
                    var w = Runs(perChannel[c], out var s);
                    regular = w.SequenceEqual(widths);
                    for (int r = 0; r < s.Count && regular; r++) starts[r][c] = s[r];
                }
                if (!regular)
                {
                    Irregular.Add((g, "its channels occupy differently shaped runs of one output"));
                    composition.Add((g, 0, perChannel.Sum(l => l?.Count ?? 0)));
                    continue;
                }
                composition.Add((g, widths.Sum(), widths.Sum() * perChannel.Length));
                _runs[g] = (widths.ToArray(), starts);
            }
            Composition = composition.ToArray();
        }

        private static bool IsPlain(int[] groupAt, int[] channelAt, List<PruningGroup> groups, out int width)
        {
            width = 0;
            if (groupAt.Length == 0) return false;
            int g = groupAt[0], channels = groups[g].Channels;
            if (groupAt.Length % channels != 0) return false;
            width = groupAt.Length / channels;
            for (int j = 0; j < groupAt.Length; j++)
                if (groupAt[j] != g || channelAt[j] != j / width) return false;
            return true;
        }

        private static List<int> Runs(List<int>? positions, out List<int> starts)
        {
            var widths = new List<int>();
            starts = new List<int>();
            if (positions is null) return widths;
            for (int t = 0; t < positions.Count; t++)
            {
                if (t > 0 && positions[t] == positions[t - 1] + 1) { widths[^1]++; continue; }
                starts.Add(positions[t]);
                widths.Add(1);
            }
            return widths;
        }

        public void AddSlices(List<PruningGroup> groups, string parameter, int node, ParamSpec spec, int axis, bool consumes)
        {
            if (spec.Shape[axis] != _length)
                throw new InvalidOperationException($"{parameter}: axis {axis} has {spec.Shape[axis]} entries, the channels it indexes number {_length}");
            foreach (var (g, (widths, starts)) in _runs)
                for (int r = 0; r < widths.Length; r++)
                {
                    if (starts[r] is null)
                    {
                        groups[g].Slices.Add(new GroupSlice(parameter, node, axis, widths[r], consumes));
                        continue;
                    }
                    bool plain = true;
                    for (int c = 0; c < starts[r].Length && plain; c++) plain = starts[r][c] == c * widths[r];
                    groups[g].Slices.Add(new GroupSlice(parameter, node, axis, widths[r], consumes, plain ? null : starts[r]));
                }
        }
    }

    private sealed class UnionFind
    {
        private readonly int[] _parent;

        public UnionFind(int n)
        {
            _parent = new int[n];
            for (int i = 0; i < n; i++) _parent[i] = i;
        }

        private UnionFind(int[] parent) => _parent = parent;

        public UnionFind Clone() => new((int[])_parent.Clone());

        public int Find(int x)
        {
            while (_parent[x] != x) x = _parent[x] = _parent[_parent[x]];
            return x;
        }

        // The smaller root wins, so a class is named by its earliest element (deterministic, topological).
        public void Union(int a, int b)
        {
            int ra = Find(a), rb = Find(b);
            if (ra != rb) _parent[Math.Max(ra, rb)] = Math.Min(ra, rb);
        }
    }
}
