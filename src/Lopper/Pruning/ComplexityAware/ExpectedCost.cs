using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Structure;
using Lopper.Tensors;

namespace Lopper.Pruning.ComplexityAware;

/// <summary>
/// Expected parameters and MACs of a gated model under independent Bernoulli gates (spec 3.2-3.3), and their
/// gradients with respect to every gate probability. Each parameter tensor and each layer's MACs is a count
/// times one factor per gated channel axis (S/C: the expected fraction of the group's C channels alive, S the
/// sum of their thetas) times the probability of every residual block enclosing it; since the gates are
/// independent and each count is a sum of products of distinct gates, the expectation is that product with
/// every gate replaced by its probability. Derived from the current graph, so it follows every removal.
/// Gate nodes' own tensors are not counted. (A layer reading and writing one group would square a
/// factor, which is then an approximation; the zoo's graphs have no such layer.)
/// </summary>
public sealed class ExpectedCost
{
    private readonly record struct Term(double Params, double Macs, int UnitA, int UnitB, int[] Blocks);

    private readonly Term[] _terms;
    private readonly int[] _channels;

    /// <summary>The gates the counts depend on (indices match <see cref="GateSet.Gates"/>).</summary>
    public GateSet Gates { get; }

    /// <summary>Builds the cost model of <paramref name="gates"/>.Model.</summary>
    public ExpectedCost(GateSet gates)
    {
        Gates = gates;
        var graph = gates.Model.Graph;
        var groups = ChannelGroups.Analyze(graph);
        int n = graph.Nodes.Count;
        var gateOfGroup = new Dictionary<int, int>();
        var gateIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int k = 0; k < gates.Gates.Count; k++) gateIndex[gates.Gates[k].Key] = k;
        _channels = gates.Gates.Select(g => g.Size).ToArray();
        for (int k = 0; k < gates.Gates.Count; k++)
        {
            var g = gates.Gates[k];
            if (g.IsBlock) continue;
            int group = groups.GroupOfNode[g.Nodes[0]];
            if (!gateOfGroup.TryAdd(group, k)) throw new InvalidOperationException($"gates {gates.Gates[gateOfGroup[group]].Key} and {g.Key} cover one channel group");
        }
        var enclosing = new List<int>[n];
        for (int i = 0; i < n; i++) enclosing[i] = new();
        foreach (var b in ResidualBlocks.Find(graph))
        {
            int gate = -1;
            foreach (int m in b.Branch)
                if (graph.Nodes[m].Op is GateOp { IsBlockGate: true } bg) gate = gateIndex[bg.Key];
            if (gate < 0) continue;
            foreach (int m in b.Branch) enclosing[m].Add(gate);
        }
        int UnitOf(int node) => gateOfGroup.GetValueOrDefault(groups.GroupOfNode[node], -1);

        var terms = new List<Term>();
        for (int i = 1; i < n; i++)
        {
            var node = graph.Nodes[i];
            if (node.Op is GateOp) continue;
            var shapes = graph.InputShapesOf(node);
            int own = UnitOf(i), input = UnitOf(node.InputIndices[0]);
            var blocks = enclosing[i].ToArray();
            foreach (var spec in node.Op.Parameters(shapes))
            {
                if (!spec.Trainable) continue;
                terms.Add(new Term(Tensor.Numel(spec.Shape), 0, spec.OutAxis >= 0 ? own : -1, spec.InAxis >= 0 ? input : -1, blocks));
            }
            long macs = node.Op.Macs(shapes);
            if (macs > 0)
            {
                bool produces = graph.ChannelKindOf(node) == ChannelMapKind.Produces;
                terms.Add(new Term(0, macs, own, produces ? input : -1, blocks));
            }
        }
        _terms = terms.ToArray();
    }

    /// <summary>Trainable parameters and MACs of a graph, leaving out gate nodes (their theta is bookkeeping, not network).</summary>
    public static (long Params, long Macs) Actual(ModelGraph graph)
    {
        long p = 0, m = 0;
        for (int i = 1; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            if (node.Op is GateOp) continue;
            var shapes = graph.InputShapesOf(node);
            foreach (var spec in node.Op.Parameters(shapes)) if (spec.Trainable) p += Tensor.Numel(spec.Shape);
            m += node.Op.Macs(shapes);
        }
        return (p, m);
    }

    /// <summary>Sum of theta of every gate (S), read from the model.</summary>
    public double[] Sums()
    {
        var s = new double[Gates.Gates.Count];
        for (int k = 0; k < s.Length; k++)
        {
            double t = 0;
            foreach (var v in Gates.Read(Gates.Gates[k], GateOp.ThetaIndex)) t += v;
            s[k] = t;
        }
        return s;
    }

    /// <summary>E[params] and E[MACs] at per-gate sums <paramref name="sums"/> (from <see cref="Sums"/>).</summary>
    public (double Params, double Macs) Expected(double[] sums)
    {
        double p = 0, m = 0;
        foreach (var t in _terms)
        {
            double f = Factor(t, sums, -1);
            p += t.Params * f;
            m += t.Macs * f;
        }
        return (p, m);
    }

    /// <summary>
    /// d E[params] / d theta and d E[MACs] / d theta for one gate of each logical gate k (every channel of a
    /// unit group has the same price: the counts depend on the group only through S).
    /// </summary>
    public (double[] Params, double[] Macs) Gradient(double[] sums)
    {
        int g = sums.Length;
        var dp = new double[g];
        var dm = new double[g];
        foreach (var t in _terms)
        {
            foreach (int k in Distinct(t))
            {
                double d = Derivative(t, sums, k);
                dp[k] += t.Params * d;
                dm[k] += t.Macs * d;
            }
        }
        return (dp, dm);
    }

    private IEnumerable<int> Distinct(Term t)
    {
        if (t.UnitA >= 0) yield return t.UnitA;
        if (t.UnitB >= 0 && t.UnitB != t.UnitA) yield return t.UnitB;
        foreach (int b in t.Blocks) yield return b;
    }

    private double UnitFactor(int k, double[] sums) => sums[k] / _channels[k];

    private double Factor(Term t, double[] sums, int skip)
    {
        double f = 1;
        if (t.UnitA >= 0 && t.UnitA != skip) f *= UnitFactor(t.UnitA, sums);
        if (t.UnitB >= 0 && t.UnitB != skip) f *= UnitFactor(t.UnitB, sums);
        foreach (int b in t.Blocks) if (b != skip) f *= sums[b];
        return f;
    }

    private double Derivative(Term t, double[] sums, int k)
    {
        double rest = Factor(t, sums, k);
        if (Gates.Gates[k].IsBlock) return rest;
        int power = (t.UnitA == k ? 1 : 0) + (t.UnitB == k ? 1 : 0);
        return power == 2 ? rest * 2 * sums[k] / ((double)_channels[k] * _channels[k]) : rest / _channels[k];
    }
}
