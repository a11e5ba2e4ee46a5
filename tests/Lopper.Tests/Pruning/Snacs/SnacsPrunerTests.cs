using Lopper.Data;
using Lopper.Pruning;
using Lopper.Structure;
using Lopper.Tests.Training;
using Lopper.Pruning.Snacs;
using Lopper.Tests.Structure;

namespace Lopper.Tests.Pruning.Snacs;

public class SnacsPrunerTests
{
    private static DataLoader Train() => new(SnacsPartsTests.TinyFashion(200), 50, 1, shuffle: true);

    private static SnacsOptions Options(SensitivityMode mode) => new()
    {
        ProbePerClass = 12, UlProbePerClass = 6, Groups = 4, Quantile = 0.5, Sensitivity = mode, ProtectFraction = 0.5, UlStep = 0.12,
    };

    [Fact]
    public void BothSensitivityReadingsProtectOppositeGroupsOnTheSameModel()
    {
        var model = StructureFixtures.Build("lenet5", 3);
        var low = new SnacsPruner(Options(SensitivityMode.Low)).Score(model, Train(), 5);
        var high = new SnacsPruner(Options(SensitivityMode.High)).Score(model, Train(), 5);
        bool anyDiffers = false;
        for (int l = 0; l < low.Pairs.Count; l++)
        {
            // Same scores and limits: only the protection differs.
            Assert.Equal(low.Pairs[l].Scores.Cast<double>(), high.Pairs[l].Scores.Cast<double>());
            Assert.Equal(low.Pairs[l].UpperLimit, high.Pairs[l].UpperLimit);
            var pl = low.Pairs[l].Protected!;
            var ph = high.Pairs[l].Protected!;
            // The classifier stays whole by default (IncludeClassifier off): every one of its groups is protected.
            if (l == low.Pairs.Count - 1) { Assert.DoesNotContain(false, pl); Assert.DoesNotContain(false, ph); continue; }
            Assert.Equal(pl.Count(b => b), ph.Count(b => b));
            anyDiffers |= !pl.SequenceEqual(ph);
            var cutsLow = ConnectionMasks.Build(low.Pairs, 0.9)[l];
            var cutsHigh = ConnectionMasks.Build(high.Pairs, 0.9)[l];
            for (int c = 0; c < pl.Length; c++)
                for (int p = 0; p < low.Pairs[l].ParentGroups; p++)
                {
                    if (pl[c]) Assert.False(cutsLow[c, p]);
                    if (ph[c]) Assert.False(cutsHigh[c, p]);
                }
        }
        Assert.True(anyDiffers);
    }

    [Fact]
    public void ScoringIsDeterministicForASeedAndLimitsAreOnTheGrid()
    {
        var model = StructureFixtures.Build("lenet5", 4);
        var a = new SnacsPruner(Options(SensitivityMode.High)).Score(model, Train(), 8);
        var b = new SnacsPruner(Options(SensitivityMode.High)).Score(model, Train(), 8);
        var grid = OperatingConstraints.Grid(0.12);
        for (int l = 0; l < a.Pairs.Count; l++)
        {
            Assert.Equal(a.Pairs[l].Scores.Cast<double>(), b.Pairs[l].Scores.Cast<double>());
            Assert.Contains(a.Pairs[l].UpperLimit, grid);
        }
        Assert.Equal(10, a.Pairs[^1].ChildGroups); // classifier child scored per class
    }

    [Fact]
    public void MinGroupFiltersKeepsEveryChildGroupAtLeastThatWide()
    {
        var model = StructureFixtures.Build("resnet20", 2);
        var fine = new SnacsPruner(new SnacsOptions { ProbePerClass = 4, Groups = 16, Quantile = 0.5 }).Score(model, Train(), 3);
        var coarse = new SnacsPruner(new SnacsOptions { ProbePerClass = 4, Groups = 16, Quantile = 0.5, MinGroupFilters = 4 }).Score(model, Train(), 3);
        Assert.Equal(fine.Pairs.Count, coarse.Pairs.Count);
        // Without it, the 16-filter stage has a group per filter.
        Assert.Contains(fine.Pairs, p => p.ChildStarts[1] - p.ChildStarts[0] == 1);
        for (int l = 0; l < coarse.Pairs.Count - 1; l++)   // the last child is the classifier, scored per class
        {
            var starts = coarse.Pairs[l].ChildStarts;
            int n = starts[^1];
            Assert.Equal(Math.Min(16, n / 4), coarse.Pairs[l].ChildGroups);
            for (int g = 0; g + 1 < starts.Length; g++) Assert.True(starts[g + 1] - starts[g] >= 4, $"pair {l}: group {g} of {n} filters");
            // Parents keep their 16 groups: only the child side is coarser.
            Assert.Equal(fine.Pairs[l].ParentStarts, coarse.Pairs[l].ParentStarts);
        }
        Assert.Equal(10, coarse.Pairs[^1].ChildGroups);
    }

    [Fact]
    public void TargetMacsCutsTheLeastThatKeepsAtMostThatShareOfTheMacs()
    {
        var model = StructureFixtures.Build("resnet20", 2);
        var (_, denseMacs) = CostCounter.Totals(model.Graph);
        var pruner = new SnacsPruner(new SnacsOptions { ProbePerClass = 4, Groups = 4, TargetMacs = 0.6, NoUpperLimits = true });
        var scoring = pruner.Score(model, Train(), 3);
        var (threshold, _, relax) = pruner.ChooseThreshold(model, scoring.Pairs, scoring.Groups);
        Assert.Equal(0, relax);
        var scratch = new Lopper.Graph.Model(model.Graph);
        long kept = SnacsPruner.KeptCost(model, scoring.Groups, scoring.Pairs, threshold, scratch).Macs;
        Assert.True(kept <= 0.6 * denseMacs, $"{kept} of {denseMacs}");
        // The lowest such threshold: the next score down keeps too many MACs.
        var values = ConnectionMasks.DistinctValues(scoring.Pairs.Select(ps => ps.Scores));
        int at = Array.IndexOf(values, threshold);
        Assert.True(at > 0 && SnacsPruner.KeptCost(model, scoring.Groups, scoring.Pairs, values[at - 1], scratch).Macs > 0.6 * denseMacs);
        var e = Assert.Throws<LopperInputException>(() => new SnacsOptions { TargetMacs = 0.5, TargetParams = 0.5 }.Validate());
        Assert.Contains("exactly one of TargetParams F, TargetMacs F or Quantile q", e.Message);
    }

    [Fact]
    public void PrunesAResidualNetworkToTheParameterBudget()
    {
        var model = StructureFixtures.Build("resnet20", 2);
        var (dense, _) = CostCounter.Totals(model.Graph);
        // Without upper limits the budget is always reachable (an untrained net's SVM limits may not allow it).
        var pruner = new SnacsPruner(new SnacsOptions { ProbePerClass = 4, Groups = 4, TargetParams = 0.6, NoUpperLimits = true });
        var outcome = pruner.Prune(new PruneContext { Model = model, Train = Train(), Test = Train(), TrainConfig = TinyTask.Config(1), Seed = 3 });
        var (p, macs) = ConnectionCompaction.Cost(outcome.Pruned, outcome.Masks!);
        Assert.True(p <= 0.6 * dense, $"{p} of {dense}");
        Assert.True((bool)outcome.Details["target_met"]!);
        Assert.Equal(macs, outcome.Macs);
        int weightLayers = model.Graph.Nodes.Count(n => n.Op is Lopper.Graph.Ops.Conv2dOp or Lopper.Graph.Ops.LinearOp);
        Assert.Equal(weightLayers - 1, outcome.Details["layers"]!.AsArray().Count); // every weight layer but the stem
        var x = StructureFixtures.Input(outcome.Pruned, 2, 1);
        Assert.All(StructureFixtures.Run(outcome.Pruned, x), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void ATargetBeyondTheUpperLimitsLiftsThemInsteadOfStoppingShort()
    {
        var model = StructureFixtures.Build("lenet5", 3);
        var (dense, _) = CostCounter.Totals(model.Graph);
        var scoring = new SnacsPruner(Options(SensitivityMode.Low)).Score(model, Train(), 5);
        var groups = scoring.Groups;
        // The limits alone: the highest threshold's cut.
        var values = ConnectionMasks.DistinctValues(scoring.Pairs.Select(p => p.Scores));
        var scratch = new Lopper.Graph.Model(model.Graph);
        long withinLimits = SnacsPruner.KeptCost(model, groups, scoring.Pairs, values[^1], scratch).Params;
        double target = 0.5 * (withinLimits + SnacsPruner.KeptCost(model, groups, scoring.Pairs, values[^1], scratch, relax: 1).Params) / dense;
        Assert.True(withinLimits > target * dense, "the case needs a target the limits alone cannot reach");

        var pruner = new SnacsPruner(Options(SensitivityMode.Low) with { Quantile = null, TargetParams = target });
        var (threshold, _, relax) = pruner.ChooseThreshold(model, scoring.Pairs, groups);
        Assert.InRange(relax, 1e-6, 1);
        long kept = SnacsPruner.KeptCost(model, groups, scoring.Pairs, threshold, scratch, relax).Params;
        Assert.True(kept <= target * dense, $"{kept} > {target * dense}");
        // The smallest lift that meets it: a little less does not.
        Assert.True(SnacsPruner.KeptCost(model, groups, scoring.Pairs, threshold, scratch, relax * 0.9).Params > target * dense);

        // Beyond every unprotected connection: one clear error naming the largest cut and the option.
        var e = Assert.Throws<LopperInputException>(() => new SnacsPruner(Options(SensitivityMode.Low) with { Quantile = null, TargetParams = 0.01 }).ChooseThreshold(model, scoring.Pairs, groups));
        Assert.StartsWith("TargetParams 0.01 cannot be reached: with every upper limit lifted", e.Message);
        Assert.Contains("give TargetParams", e.Message);
    }

    [Fact]
    public void TheClassifierKeepsEveryConnectionUnlessAsked()
    {
        var model = StructureFixtures.Build("lenet5", 3);
        var kept = new SnacsPruner(Options(SensitivityMode.Low)).Score(model, Train(), 5);
        var cut = new SnacsPruner(Options(SensitivityMode.Low) with { IncludeClassifier = true }).Score(model, Train(), 5);
        Assert.DoesNotContain(ConnectionMasks.Build(kept.Pairs, 0.9)[^1].Cast<bool>(), c => c);
        Assert.Contains(ConnectionMasks.Build(cut.Pairs, 0.9)[^1].Cast<bool>(), c => c);
    }

    [Fact]
    public void TheRandomScoreControlReplacesTheScoresWithSeededUniformOnes()
    {
        var model = StructureFixtures.Build("lenet5", 3);
        var real = new SnacsPruner(Options(SensitivityMode.Low)).Score(model, Train(), 5);
        var control = new SnacsPruner(Options(SensitivityMode.Low) with { RandomScores = true });
        var a = control.Score(model, Train(), 5);
        var b = control.Score(model, Train(), 5);
        Assert.Equal("snacs-random", control.Name);
        for (int l = 0; l < real.Pairs.Count; l++)
        {
            // The upper limits are fitted along the score order, so they follow the random scores too.
            Assert.Equal(a.Pairs[l].Scores.Cast<double>(), b.Pairs[l].Scores.Cast<double>()); // seeded
            Assert.All(a.Pairs[l].Scores.Cast<double>(), v => Assert.InRange(v, 0, 1));
            Assert.NotEqual(real.Pairs[l].Scores.Cast<double>(), a.Pairs[l].Scores.Cast<double>());
        }
    }

    [Fact]
    public void TiesAreBrokenByWeightMagnitudeWithoutReorderingDistinctScores()
    {
        var model = StructureFixtures.Build("lenet5", 3);
        var pairs = new SnacsPruner(Options(SensitivityMode.Low)).Score(model, Train(), 5).Pairs;
        var first = pairs[0].Scores;
        int gc = first.GetLength(0), gp = first.GetLength(1);
        for (int c = 0; c < gc; c++) for (int p = 0; p < gp; p++) first[c, p] = 0.25; // one floor value
        var before = pairs.Skip(1).Select(q => q.Scores.Cast<double>().ToArray()).ToList();
        SnacsPruner.BreakTies(pairs, model);
        // The tied pair is now ordered by its groups' mean |w| (parent and child groups of the child's weight).
        var w = model.Find(pairs[0].Pair.Weight(model.Graph))!.Value.Data;
        int pc = pairs[0].Pair.ParentChannels, per = w.Length / (pc * pairs[0].Pair.ChildChannels);
        double Mean(int c, int p)
        {
            double sum = 0; int n = 0;
            for (int i = pairs[0].ChildStarts[c]; i < pairs[0].ChildStarts[c + 1]; i++)
                for (int j = pairs[0].ParentStarts[p] * per; j < pairs[0].ParentStarts[p + 1] * per; j++) { sum += Math.Abs(w[i * pc * per + j]); n++; }
            return sum / n;
        }
        var cells = Enumerable.Range(0, gc * gp).Select(k => (c: k / gp, p: k % gp)).ToList();
        var byScore = cells.OrderBy(x => first[x.c, x.p]).ToList();
        var byWeight = cells.OrderBy(x => Mean(x.c, x.p)).ToList();
        Assert.Equal(byWeight, byScore);
        Assert.Equal(gc * gp, cells.Select(x => first[x.c, x.p]).Distinct().Count());
        // Every other pair keeps the order of its scores.
        for (int l = 1; l < pairs.Count; l++)
        {
            var after = pairs[l].Scores.Cast<double>().ToArray();
            var old = before[l - 1];
            for (int a = 0; a < old.Length; a++)
                for (int b = 0; b < old.Length; b++)
                    if (old[a] < old[b]) Assert.True(after[a] < after[b]);
        }
    }
}
