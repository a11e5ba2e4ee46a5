using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Structure;

namespace Lopper.Pruning.ComplexityAware;

/// <summary>What one removal did.</summary>
/// <param name="Model">The smaller model.</param>
/// <param name="Slicing">How the old parameters (and optimizer state) map onto it.</param>
/// <param name="Blocks">Names of the residual blocks deleted.</param>
/// <param name="Units">Channels deleted (in blocks deleted as a whole not counted).</param>
public sealed record RemovalResult(Model Model, ParameterSlicing Slicing, IReadOnlyList<string> Blocks, int Units);

/// <summary>
/// Physical removal of gated structures (spec 5.3-5.4): residual blocks through <see cref="BlockSurgery"/>,
/// unit channels through <see cref="ChannelSurgery"/> on the group that carries the gate, with the parameter
/// map the trainer needs to re-slice optimizer state. Also the end of training: rounding every gate, deleting
/// the zeros and folding the ones away, leaving an ordinary network.
/// </summary>
public static class GateRemoval
{
    /// <summary>
    /// Deletes the channels <paramref name="units"/> (gate key to channel indices) and the blocks of the block
    /// gates <paramref name="blockKeys"/>. A group always keeps one channel; when every channel of a group that
    /// lives inside one gated block's branch goes, the block goes instead if <paramref name="escalate"/> (its
    /// branch then only adds the constant batch-norm shift of its last layer, which weight decay drives to 0;
    /// spec 5.3), else one channel stays.
    /// </summary>
    public static RemovalResult Remove(Model model, IReadOnlyDictionary<string, int[]> units, IReadOnlyCollection<string> blockKeys, bool escalate)
    {
        var gates = GateSet.Of(model);
        var graph = model.Graph;
        var byKey = gates.Gates.ToDictionary(g => g.Key, StringComparer.Ordinal);
        var blocks = ResidualBlocks.Find(graph);
        ResidualBlock? BlockOfGate(LogicalGate g) => blocks.FirstOrDefault(b => b.Branch.Contains(g.Nodes[0]));
        var dropBlocks = new Dictionary<string, ResidualBlock>(StringComparer.Ordinal);
        foreach (var key in blockKeys)
            if (byKey.TryGetValue(key, out var g) && BlockOfGate(g) is { } b) dropBlocks[key] = b;

        var keepUnits = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach (var (key, channels) in units)
        {
            if (!byKey.TryGetValue(key, out var g) || g.IsBlock || channels.Length == 0) continue;
            var inside = blocks.FirstOrDefault(b => g.Nodes.All(b.Branch.Contains));
            if (inside is not null && dropBlocks.Values.Contains(inside)) continue;
            var removed = channels.Distinct().Order().ToArray();
            if (removed.Length >= g.Size)
            {
                LogicalGate? blockGate = inside is null ? null : gates.Gates.FirstOrDefault(x => x.IsBlock && inside.Branch.Contains(x.Nodes[0]));
                if (escalate && blockGate is not null)
                {
                    dropBlocks[blockGate.Key] = inside!;
                    continue;
                }
                removed = removed[1..];
            }
            if (removed.Length > 0) keepUnits[key] = removed;
        }

        var current = model;
        var slicing = ParameterSlicing.Identity(model);
        if (dropBlocks.Count > 0)
        {
            current = BlockSurgery.Compact(model, dropBlocks.Values.ToList());
            slicing = slicing.Then(ParameterSlicing.Identity(current));
        }
        int unitCount = 0;
        if (keepUnits.Count > 0)
        {
            var groups = ChannelGroups.Analyze(current.Graph);
            var now = GateSet.Of(current).Gates.ToDictionary(g => g.Key, StringComparer.Ordinal);
            var selection = new ChannelSelection();
            foreach (var (key, removed) in keepUnits)
            {
                if (!now.TryGetValue(key, out var g)) continue;
                var group = groups.Groups[groups.GroupOfNode[g.Nodes[0]]];
                var gone = new HashSet<int>(removed);
                selection.Keep(group, Enumerable.Range(0, group.Channels).Where(c => !gone.Contains(c)));
                unitCount += removed.Length;
            }
            var next = ChannelSurgery.Compact(current, groups, selection);
            slicing = slicing.Then(ParameterSlicing.ForChannels(current, groups, selection));
            current = next;
        }
        return new RemovalResult(current, slicing, dropBlocks.Keys.Select(k => k[GateOp.BlockPrefix.Length..]).ToList(), unitCount);
    }

    /// <summary>
    /// The end state: every gate below 0.5 set to 0 (as inference reads it) and its structure deleted, a last
    /// channel of a group that is all 0 zeroed instead, every other gate folded into the layer that produces
    /// what it gates (a scale of theta, 1 for most), and the gate nodes removed. The result is an ordinary
    /// network computing exactly what the gated model computes in inference mode.
    /// </summary>
    public static (RemovalResult Result, int Fractional) Finish(Model model) => Finish(model, 0.5f);

    /// <summary>
    /// As <see cref="Finish(Model)"/> with gates below <paramref name="cutoff"/> (at least 0.5) deleted: a budget met at
    /// the fold when the gates have not all settled at 0 or 1.
    /// </summary>
    public static (RemovalResult Result, int Fractional) Finish(Model model, float cutoff)
    {
        if (!(cutoff >= 0.5f && cutoff <= 1f)) throw new ArgumentOutOfRangeException(nameof(cutoff), cutoff, "a cutoff must lie in [0.5, 1]");
        return Finish(model, (_, _, theta) => theta < cutoff);
    }

    /// <summary>
    /// As <see cref="Finish(Model)"/> with the structures to delete chosen by <paramref name="delete"/> (gate key, index
    /// within the gate, theta); gates at 0 always go. A kept gate below 1 is folded in as a scale of its theta (what it
    /// passes on average while training), also when theta is under 0.5.
    /// </summary>
    public static (RemovalResult Result, int Fractional) Finish(Model model, Func<string, int, float, bool> delete)
    {
        var gates = GateSet.Of(model);
        int fractional = 0;
        var units = new Dictionary<string, int[]>(StringComparer.Ordinal);
        var blocks = new List<string>();
        foreach (var g in gates.Gates)
        {
            var theta = gates.Read(g, GateOp.ThetaIndex);
            var zeros = new List<int>();
            for (int j = 0; j < theta.Length; j++)
            {
                if (theta[j] is > 0f and < 1f) fractional++;
                if (theta[j] == 0f || delete(g.Key, j, theta[j])) theta[j] = 0f;
                if (theta[j] == 0f) zeros.Add(j);
            }
            gates.Sync(g, GateOp.ThetaIndex);
            if (zeros.Count == 0) continue;
            if (g.IsBlock) blocks.Add(g.Key);
            else units[g.Key] = zeros.ToArray();
        }
        var removed = Remove(model, units, blocks, escalate: false);
        var (folded, foldSlicing) = Fold(removed.Model);
        return (removed with { Model = folded, Slicing = removed.Slicing.Then(foldSlicing) }, fractional);
    }

    /// <summary>
    /// Removes every gate node of a model: channels at 0 are zeroed in every parameter slice of their group (exactly
    /// what the gate did), a gate theta below 1 is multiplied into the batch-norm or layer that produces the gated
    /// channel (ReLU and pooling commute with a positive scale), then the gates are rewired away.
    /// </summary>
    public static (Model Model, ParameterSlicing Slicing) Fold(Model model)
    {
        var gates = GateSet.Of(model);
        var groups = ChannelGroups.Analyze(model.Graph);
        foreach (var g in gates.Gates)
        {
            var theta = gates.Read(g, GateOp.ThetaIndex);
            var off = new List<int>();
            for (int j = 0; j < theta.Length; j++)
            {
                if (theta[j] == 0f) off.Add(j);
                else if (theta[j] < 1f)
                    foreach (int n in g.Nodes) ScaleSource(model, n, g.IsBlock ? -1 : j, theta[j]);
            }
            if (off.Count == 0) continue;
            if (g.IsBlock) throw new InvalidOperationException($"block gate {g.Key} is 0; delete the block first");
            var group = groups.Groups[groups.GroupOfNode[g.Nodes[0]]];
            foreach (var s in group.Slices) AxisSlicing.Zero(model.Find(s.Parameter)!.Value, s, off);
        }
        var graph = model.Graph;
        var rename = new Dictionary<string, string>(StringComparer.Ordinal);
        string R(string s) { while (rename.TryGetValue(s, out var t)) s = t; return s; }
        var nodes = new List<Node>();
        foreach (var n in graph.Nodes)
        {
            if (n.Op is GateOp) { rename[n.Name] = n.Inputs[0]; continue; }
            nodes.Add(new Node(n.Name, n.Op, n.Inputs.Select(R).ToArray()));
        }
        var folded = new Model(new ModelGraph(graph.Name, nodes));
        foreach (var p in folded.Parameters) model.Find(p.Name)!.Value.Span.CopyTo(p.Value.Span);
        return (folded, ParameterSlicing.Identity(folded));
    }

    /// <summary>
    /// Multiplies channel <paramref name="channel"/> (all channels when -1) of what gate node <paramref name="gate"/>
    /// reads by <paramref name="factor"/> &gt; 0, in the nearest batch-norm or producing layer behind it.
    /// </summary>
    private static void ScaleSource(Model model, int gate, int channel, float factor)
    {
        var nodes = model.Graph.Nodes;
        int n = nodes[gate].InputIndices[0];
        while (nodes[n].Op is not BatchNorm2dOp && model.Graph.ChannelKindOf(nodes[n]) != ChannelMapKind.Produces)
        {
            // Positively homogeneous pass-through ops commute with the scale.
            if (nodes[n].Op is not (ReluOp or MaxPool2dOp or AvgPool2dOp or GateOp))
                throw new InvalidOperationException($"cannot fold gate {nodes[gate].Name} through {nodes[n].Name} ({nodes[n].Op.Type})");
            n = nodes[n].InputIndices[0];
        }
        foreach (var p in model.NodeParameters[n])
        {
            if (!p.Trainable || p.Spec.OutAxis < 0) continue;
            int axis = p.Spec.OutAxis;
            var shape = p.Value.Shape;
            int outer = 1, inner = 1;
            for (int d = 0; d < axis; d++) outer *= shape[d];
            for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
            var s = p.Value.Span;
            for (int o = 0; o < outer; o++)
                for (int c = channel < 0 ? 0 : channel; c < (channel < 0 ? shape[axis] : channel + 1); c++)
                    TensorPrimitives.Multiply(s.Slice((o * shape[axis] + c) * inner, inner), factor, s.Slice((o * shape[axis] + c) * inner, inner));
        }
    }
}
