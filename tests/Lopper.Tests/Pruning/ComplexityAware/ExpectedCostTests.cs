using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Pruning.ComplexityAware;
using Lopper.Structure;
using Lopper.Tensors;

namespace Lopper.Tests.Pruning.ComplexityAware;

/// <summary>
/// The expected-complexity model against an independent truth: sample gate patterns, zero what each pattern
/// switches off in a copy of the model whose weights are all nonzero, and count the nonzero parameters and the
/// MACs of the nonzero convolution and linear weights.
/// </summary>
public class ExpectedCostTests
{
    private sealed class Truth
    {
        private readonly Model _model;
        private readonly float[][] _dense;
        private readonly ChannelGroups _groups;
        private readonly GateSet _gates;
        private readonly List<ResidualBlock> _blocks;

        public Truth(Model model)
        {
            _model = model;
            var rng = new Rng(5);
            foreach (var p in model.Parameters)
                if (p.Trainable && p.Owner.Op is not GateOp)
                    for (int i = 0; i < p.Value.Length; i++) p.Value.Data[i] = 0.5f + rng.NextFloat();
            _dense = model.Parameters.Select(p => (float[])p.Value.Data.Clone()).ToArray();
            _groups = ChannelGroups.Analyze(model.Graph);
            _gates = GateSet.Of(model);
            _blocks = ResidualBlocks.Find(model.Graph).ToList();
        }

        /// <summary>Live parameters and MACs when gate k, channel j is on iff pattern[k][j].</summary>
        public (double Params, double Macs) Count(bool[][] pattern)
        {
            for (int i = 0; i < _dense.Length; i++) _dense[i].CopyTo(_model.Parameters[i].Value.Data, 0);
            for (int k = 0; k < pattern.Length; k++)
            {
                var g = _gates.Gates[k];
                var off = Enumerable.Range(0, g.Size).Where(j => !pattern[k][j]).ToArray();
                if (off.Length == 0) continue;
                if (g.IsBlock)
                {
                    var b = _blocks.First(x => x.Branch.Contains(g.Nodes[0]));
                    BlockSurgery.Mask(_model, [b]);
                }
                else
                {
                    var group = _groups.Groups[_groups.GroupOfNode[g.Nodes[0]]];
                    foreach (var s in group.Slices) AxisSlicing.Zero(_model.Find(s.Parameter)!.Value, s, off);
                }
            }
            double p = 0, m = 0;
            var graph = _model.Graph;
            for (int i = 1; i < graph.Nodes.Count; i++)
            {
                var node = graph.Nodes[i];
                if (node.Op is GateOp) continue;
                foreach (var prm in _model.NodeParameters[i])
                {
                    if (!prm.Trainable) continue;
                    int nz = 0;
                    foreach (var v in prm.Value.Span) if (v != 0) nz++;
                    p += nz;
                    if (prm.Spec.Name == "weight" && node.Op is Lopper.Graph.Ops.Conv2dOp or Lopper.Graph.Ops.LinearOp)
                    {
                        var s = node.OutputShape;
                        int spatial = s.Length == 4 ? s[2] * s[3] : 1;
                        m += (double)nz * spatial;
                    }
                }
            }
            return (p, m);
        }
    }

    private static (Model Model, GateSet Gates, ExpectedCost Cost, float[][] Theta) Setup()
    {
        var model = GateFixtures.GatedTiny(3);
        var gates = GateSet.Of(model);
        var rng = new Rng(17);
        foreach (var g in gates.Gates) GateFixtures.SetTheta(gates, g, _ => 0.2f + 0.7f * rng.NextFloat());
        var theta = gates.Gates.Select(g => gates.Read(g, GateOp.ThetaIndex).ToArray()).ToArray();
        return (model, gates, new ExpectedCost(gates), theta);
    }

    private static bool[][] Sample(float[][] theta, Rng rng) =>
        theta.Select(t => t.Select(p => rng.NextFloat() < p).ToArray()).ToArray();

    [Fact]
    public void TinyResNetGetsUnitGatesPerGroupAndBlockGatesPerBlock()
    {
        var gates = GateSet.Of(GateFixtures.GatedTiny(1));
        var keys = gates.Gates.Select(g => g.Key).ToHashSet();
        Assert.Contains("block:layer1.0", keys);
        Assert.Contains("block:layer2.0", keys);
        // The stem and the identity block's conv2 write one coupled space: one gate, two nodes.
        var stage1 = gates.Gates.Single(g => !g.IsBlock && g.Size == 4);
        Assert.Equal(2, stage1.Nodes.Length);
        Assert.Equal(3, gates.Gates.Single(g => !g.IsBlock && g.Size == 3).Size);
        Assert.Equal(2, gates.Gates.Count(g => !g.IsBlock && g.Size == 6)); // layer2 inner width 6 and the stage-2 space
    }

    [Fact]
    public void AllGatesOnGivesTheDenseCounts()
    {
        var model = GateFixtures.GatedTiny(2);
        var cost = new ExpectedCost(GateSet.Of(model));
        var (p, m) = cost.Expected(cost.Sums());
        var (p0, m0) = CostCounter.Totals(GateFixtures.TinyResNet());
        Assert.Equal(p0, p, 6);
        Assert.Equal(m0, m, 6);
        Assert.Equal((p0, m0), ExpectedCost.Actual(model.Graph));
    }

    [Fact]
    public void ExpectationMatchesMonteCarloOfTheRealCounts()
    {
        var (model, gates, cost, theta) = Setup();
        var (ep, em) = cost.Expected(cost.Sums());
        var truth = new Truth(model);
        var rng = new Rng(99);
        int n = 3000;
        double sp = 0, sp2 = 0, sm = 0, sm2 = 0;
        for (int i = 0; i < n; i++)
        {
            var (p, m) = truth.Count(Sample(theta, rng));
            sp += p; sp2 += p * p; sm += m; sm2 += m * m;
        }
        double mp = sp / n, mm = sm / n;
        double sdp = Math.Sqrt((sp2 / n - mp * mp) / n), sdm = Math.Sqrt((sm2 / n - mm * mm) / n);
        Assert.True(Math.Abs(mp - ep) < 4 * sdp + 1e-9, $"E[params] {ep} vs Monte Carlo {mp} ± {sdp}");
        Assert.True(Math.Abs(mm - em) < 4 * sdm + 1e-9, $"E[MACs] {em} vs Monte Carlo {mm} ± {sdm}");
    }

    [Fact]
    public void GradientMatchesMonteCarloOfSwitchingEachStructure()
    {
        // Multilinearity: dE/dtheta_s = E[count | xi_s = 1] - E[count | xi_s = 0], estimated from paired samples.
        var (model, gates, cost, theta) = Setup();
        var (gp, gm) = cost.Gradient(cost.Sums());
        var truth = new Truth(model);
        var rng = new Rng(123);
        int n = 600;
        for (int k = 0; k < theta.Length; k++)
        {
            int j = theta[k].Length - 1;
            double dp = 0, dp2 = 0, dm = 0, dm2 = 0;
            for (int i = 0; i < n; i++)
            {
                var pattern = Sample(theta, rng);
                pattern[k][j] = true;
                var on = truth.Count(pattern);
                pattern[k][j] = false;
                var off = truth.Count(pattern);
                double a = on.Params - off.Params, b = on.Macs - off.Macs;
                dp += a; dp2 += a * a; dm += b; dm2 += b * b;
            }
            double mp = dp / n, mm = dm / n;
            double sdp = Math.Sqrt(Math.Max(0, dp2 / n - mp * mp) / n), sdm = Math.Sqrt(Math.Max(0, dm2 / n - mm * mm) / n);
            Assert.True(Math.Abs(mp - gp[k]) < 4 * sdp + 1e-6 * Math.Abs(gp[k]) + 1e-9, $"{gates.Gates[k].Key}: dE[params] {gp[k]} vs Monte Carlo {mp} ± {sdp}");
            Assert.True(Math.Abs(mm - gm[k]) < 4 * sdm + 1e-6 * Math.Abs(gm[k]) + 1e-9, $"{gates.Gates[k].Key}: dE[MACs] {gm[k]} vs Monte Carlo {mm} ± {sdm}");
            Assert.True(gp[k] > 0 && gm[k] >= 0, $"{gates.Gates[k].Key} has no price");
        }
    }

    [Fact]
    public void GradientMatchesFiniteDifferencesOfTheExpectation()
    {
        var (_, gates, cost, _) = Setup();
        var sums = cost.Sums();
        var (gp, gm) = cost.Gradient(sums);
        for (int k = 0; k < sums.Length; k++)
        {
            // One gate's theta moves by h: S_k moves by h.
            double h = 1e-3;
            var up = (double[])sums.Clone(); up[k] += h;
            var dn = (double[])sums.Clone(); dn[k] -= h;
            var (pu, mu) = cost.Expected(up);
            var (pd, md) = cost.Expected(dn);
            Assert.Equal(gp[k], (pu - pd) / (2 * h), 1e-6 * Math.Max(1, gp[k]));
            Assert.Equal(gm[k], (mu - md) / (2 * h), 1e-6 * Math.Max(1, gm[k]));
        }
    }
}
