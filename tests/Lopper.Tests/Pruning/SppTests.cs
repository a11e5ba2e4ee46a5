using Lopper.Data;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Pruning;
using Lopper.Pruning.Spp;
using Lopper.Structure;
using Lopper.Tensors;
using Lopper.Tests.Training;
using Lopper.Training;

namespace Lopper.Tests.Pruning;

public class SppTests
{
    private const double A = 0.05, U = 0.25;

    [Fact]
    public void IncrementIsAAtRankZeroZeroAtTheBoundaryAndNegativeAfter()
    {
        foreach (int m in new[] { 1, 5, 12, 100 })
        {
            Assert.Equal(A, SppMath.Increment(0, m, A, U), 12);
            Assert.Equal(0, SppMath.Increment(m, m, A, U), 12);
            Assert.True(SppMath.Increment(m - 1, m, A, U) > 0);
            Assert.True(SppMath.Increment(m + 1, m, A, U) < 0);
            for (int r = 1; r < 4 * m; r++) Assert.True(SppMath.Increment(r, m, A, U) < SppMath.Increment(r - 1, m, A, U));
        }
        // Spec §3.4 worked values.
        Assert.Equal(0.0297, SppMath.Increment(25, 100, A, U), 4);
        Assert.Equal(-0.175, SppMath.Increment(200, 100, A, U), 3);
        Assert.Equal(-0.175, SppMath.Increment(24, 12, A, U), 3);
        Assert.True(double.IsFinite(SppMath.Increment(1e6, 3, A, U)));
    }

    [Fact]
    public void IncrementIsCentrallySymmetricAboutTheCentre()
    {
        int m = 100;
        double nc = SppMath.Centre(m, U);
        Assert.Equal(m * 2.0 / 3, nc, 9);
        Assert.Equal(U * A, SppMath.Increment(nc, m, A, U), 12);
        foreach (double d in new[] { 0.5, 3, 17.25, 40, 66 })
            Assert.Equal(2 * U * A, SppMath.Increment(nc - d, m, A, U) + SppMath.Increment(nc + d, m, A, U), 12);
    }

    [Fact]
    public void ProbabilitiesAreClippedToTheUnitInterval()
    {
        Assert.Equal(1.0, SppMath.Step(0.98, 0.05));
        Assert.Equal(0.0, SppMath.Step(0.01, -1.5));
        Assert.Equal(0.5, SppMath.Step(0.45, 0.05), 12);

        var (model, layer, hook) = OneLayer(ratio: 0.5, interval: 1, a: 0.9);
        for (int i = 0; i < 5; i++)
        {
            hook.UpdateProbabilities(model, layer);
            Assert.All(layer.P, p => Assert.InRange(p, 0.0, 1.0));
        }
    }

    [Fact]
    public void AColumnAtProbabilityOneIsRemovedForGood()
    {
        var (model, layer, hook) = OneLayer(ratio: 0.5, interval: 1, a: A);
        var w = model.Find(layer.Weight)!.Value;
        // Column 4 gets the smallest L1 norm, so rank 0 and the full increment A.
        for (int f = 0; f < layer.Filters; f++) w.Data[f * layer.Columns + 4] = 1e-4f;
        layer.P[4] = 0.97;
        hook.UpdateProbabilities(model, layer);
        Assert.True(layer.Dead[4]);
        Assert.Equal(1, layer.DeadCount);
        Assert.Equal(1.0, layer.P[4]);
        Assert.Contains(4, ColumnSurgery.ZeroColumns(w));

        for (int i = 0; i < 20; i++)
        {
            hook.BeforeStep(model, 0, i);
            Assert.False(layer.Mask[4]);
            hook.AfterStep(model, 0, i);
        }
        Assert.Equal(1.0, layer.P[4]);
        Assert.Contains(4, ColumnSurgery.ZeroColumns(w));
    }

    [Fact]
    public void ALayerStopsExactlyAtItsTarget()
    {
        var (model, layer, hook) = OneLayer(ratio: 0.4, interval: 2, a: 0.2);
        Assert.Equal(4, layer.TargetCount); // ⌈0.4·9⌉
        for (int i = 0; i < 400 && !layer.Finished; i++) { hook.BeforeStep(model, 0, i); hook.AfterStep(model, 0, i); }
        Assert.True(layer.Finished);
        Assert.Equal(layer.TargetCount, layer.DeadCount);
        var dead = layer.Dead.ToArray();
        for (int i = 0; i < 50; i++) { hook.BeforeStep(model, 0, i); hook.AfterStep(model, 0, i); }
        Assert.Equal(dead, layer.Dead);
        Assert.Equal(dead.Select(d => !d), layer.Mask);
        Assert.All(layer.P.Where((_, j) => !dead[j]), p => Assert.Equal(0.0, p));
        Assert.Equal(ColumnSurgery.ZeroColumns(model.Find(layer.Weight)!.Value), Enumerable.Range(0, 9).Where(j => dead[j]));
    }

    [Fact]
    public void MaskedColumnsReceiveNoUpdate()
    {
        var config = TinyTask.Config(2);
        var trainer = TinyTask.NewTrainer(config, null, TinyTask.Data(64, 1), TinyTask.Data(16, 2));
        var model = trainer.Model;
        var opts = new SppOptions { TargetSpeedup = 1.5, Interval = 1, A = 0.3, IncludeStem = true, MinColumns = 0 }.Validate();
        var (layers, total) = SppPruner.PlanLayers(model, opts);
        var spp = new SppHook(layers, opts, 11, total);
        var check = new UpdateCheck(spp);
        trainer.AddHook(check); // before the SPP hook: it sees the weights after the previous step's restore
        trainer.AddHook(spp);
        trainer.AddHook(check.Gradients);
        trainer.Run();
        Assert.True(check.MaskedSeen > 0, "no column was masked temporarily");
        Assert.True(check.UnmaskedMoved > 0, "kept columns did not train");
    }

    /// <summary>Compares each step's start weights with the previous step's: masked columns must be bit-identical.</summary>
    private sealed class UpdateCheck(SppHook spp) : ITrainingHook
    {
        private float[]? _before;
        private bool[][]? _masks;
        public int MaskedSeen, UnmaskedMoved;

        public void BeforeStep(Model model, int epoch, int step)
        {
            var l = spp.Layers[0];
            var w = model.Find(l.Weight)!.Value.Data;
            if (_before is not null)
                for (int j = 0; j < l.Columns; j++)
                {
                    bool same = true, zero = true;
                    for (int i = 0; i < l.Filters; i++) { same &= w[i * l.Columns + j] == _before[i * l.Columns + j]; zero &= w[i * l.Columns + j] == 0f; }
                    // A column removed in the last step is zeroed rather than kept.
                    if (!_masks![0][j] && l.Dead[j]) Assert.True(zero, $"dead column {j} is not zero at step {step}");
                    else if (!_masks[0][j]) { Assert.True(same, $"masked column {j} moved at step {step}"); MaskedSeen++; }
                    else if (!same) UnmaskedMoved++;
                }
            _before = (float[])w.Clone();
        }

        /// <summary>Registered after the SPP hook, so it sees the gradients the optimizer is about to use.</summary>
        public ITrainingHook Gradients => new GradientCheck(this);

        private sealed class GradientCheck(UpdateCheck owner) : ITrainingHook
        {
            public void AfterBackward(Model model, int epoch, int step)
            {
                var spp = owner.Spp;
                var l = spp.Layers[0];
                var g = model.Find(l.Weight)!.Grad!.Data;
                for (int j = 0; j < l.Columns; j++)
                    if (!l.Mask[j])
                        for (int i = 0; i < l.Filters; i++) Assert.Equal(0f, g[i * l.Columns + j]);
                owner._masks = spp.Layers.Select(x => x.Mask.ToArray()).ToArray();
            }
        }

        private SppHook Spp => spp;
    }

    [Fact]
    public void SpeedupTargetGivesTheUniformColumnRatio()
    {
        Assert.Equal(0.5, SppMath.UniformRatio(2, 1000, 1000), 12);
        Assert.Equal(0.75, SppMath.UniformRatio(4, 1000, 1000), 12);
        // A quarter of the MACs is not pruned: 1000 / (1000 − r·750) = 2.
        double r = SppMath.UniformRatio(2, 1000, 750);
        Assert.Equal(2.0, 1000 / (1000 - r * 750), 12);
        Assert.Throws<LopperInputException>(() => SppMath.UniformRatio(4, 1000, 500));
        Assert.Equal(2.0, SppMath.Speedup([(600, 0.5), (400, 0.5)]), 12);

        var model = new Model(TwoConvGraph(), 1);
        var (layers, total) = SppPruner.PlanLayers(model, new SppOptions { TargetSpeedup = 2, IncludeStem = true, MinColumns = 0 }.Validate());
        Assert.Equal(2, layers.Count);
        Assert.Equal(SppPruner.ConvMacs(model.Graph), total);
        Assert.All(layers, l => Assert.Equal(0.5, l.TargetRatio, 12));
        var named = SppPruner.PlanLayers(model, new SppOptions { Ratios = new Dictionary<string, double> { ["conv2"] = 0.3 } }.Validate()).Layers;
        Assert.Equal("conv2", Assert.Single(named).Node);
        Assert.Throws<LopperInputException>(() => SppPruner.PlanLayers(model, new SppOptions { Ratios = new Dictionary<string, double> { ["nope"] = 0.3 } }.Validate()));
    }

    [Fact]
    public void PrunedModelIsCompactedAndMatchesTheMaskedModel()
    {
        var model = new Model(TwoConvGraph(), 3);
        var train = TinyTask.Data(48, 1);
        var test = TinyTask.Data(16, 2);
        var (mean, std) = train.ChannelStats();
        var logs = new List<string>();
        var ctx = new PruneContext
        {
            Model = model,
            Train = new DataLoader(train, 16, 5, shuffle: true, mean, std),
            Test = new DataLoader(test, 16, 5, shuffle: false, mean, std),
            TrainConfig = TinyTask.Config(1) with { Lr = 0.01f },
            Seed = 5,
            Log = logs.Add,
        };
        var outcome = new SppPruner(new SppOptions { TargetSpeedup = 2, Interval = 1, A = 0.25, PruneEpochs = 4 }).Prune(ctx);
        var pruned = outcome.Pruned;
        Assert.Contains(pruned.Graph.Nodes, n => n.Op is Conv2dOp { Columns: not null });
        Assert.True((double)outcome.Details["conv_mac_speedup"]! >= 2 - 1e-9);
        Assert.Contains(logs, s => s.StartsWith("SPP iteration", StringComparison.Ordinal));

        using var batch = ctx.Test.GetBatch(0, 0);
        var a = new Executor(model).Forward(batch.Images, training: false, forBackward: false);
        var b = new Executor(pruned).Forward(batch.Images, training: false, forBackward: false);
        Assert.Equal(a.Shape, b.Shape);
        for (int i = 0; i < a.Length; i++) Assert.Equal(a.Data[i], b.Data[i], 3);
    }

    [Fact]
    public void UpdatesToCompleteMatchesTheSpecSimulation()
    {
        // Spec §6.3 (an independent simulation with ranks held fixed): K, R -> updates.
        Assert.Equal(79, SppMath.UpdatesToComplete(27, SppMath.TargetCount(0.5, 27), A, U));
        Assert.Equal(103, SppMath.UpdatesToComplete(75, SppMath.TargetCount(0.5, 75), A, U));
        Assert.Equal(153, SppMath.UpdatesToComplete(576, SppMath.TargetCount(0.5, 576), A, U));
        Assert.Equal(198, SppMath.UpdatesToComplete(2304, SppMath.TargetCount(0.75, 2304), A, U));
        Assert.Equal(0, SppMath.UpdatesToComplete(9, 0, A, U));
        // The weakest column gains exactly A per update.
        Assert.Equal(20, SppMath.UpdatesToComplete(9, 1, A, U));
    }

    [Fact]
    public void TheDerivedIntervalFitsTheSlowestLayerIntoThePhase()
    {
        var model = new Model(TwoConvGraph(), 1);
        var opts = new SppOptions { TargetSpeedup = 1.5, A = 0.2 }.Validate();
        var (layers, _) = SppPruner.PlanLayers(model, opts);
        int needed = SppMath.UpdatesToComplete(layers[0].Columns, layers[0].TargetCount, 0.2, U);
        int t = SppPruner.DeriveInterval(layers, opts, 10_000, out int reported);
        Assert.Equal(needed, reported);
        Assert.Equal(5_000 / needed, t);
        // The last update the slowest layer needs comes before half the phase.
        Assert.True(1 + (long)(needed - 1) * t <= 5_000);
        Assert.Equal(1, SppPruner.DeriveInterval(layers, opts, 3, out _));
    }

    [Fact]
    public void WithTheDerivedIntervalProbabilitiesCompleteWithoutForcing()
    {
        var (outcome, logs) = PruneTwoConv(new SppOptions { TargetSpeedup = 1.5, A = 0.2, PruneEpochs = 12 });
        var d = outcome.Details;
        Assert.True((bool)d["interval_derived"]!);
        Assert.Equal(0, (int)d["columns_forced"]!);
        Assert.Equal(0, (int)d["layers_forced"]!);
        foreach (var l in d["layers"]!.AsArray())
        {
            Assert.False((bool)l!["forced"]!);
            Assert.Equal(0, (int)l["forced_columns"]!);
            Assert.True((int)l["by_probability"]! >= (int)l["target_columns"]!);
        }
        Assert.True((double)d["conv_mac_speedup"]! >= 1.5 - 1e-9);
        Assert.DoesNotContain(logs, s => s.Contains("warning", StringComparison.Ordinal));
        Assert.Contains(logs, s => s.StartsWith("SPP: columns removed by probability/forced by rank: conv2 ", StringComparison.Ordinal));

        // The paper's t = 180 in the same short phase never reaches probability 1: everything is forced, and it says so.
        var (fixedT, fixedLogs) = PruneTwoConv(new SppOptions { TargetSpeedup = 1.5, A = 0.2, PruneEpochs = 12, Interval = 180 });
        Assert.Equal(0, (int)fixedT.Details["columns_by_probability"]!);
        Assert.True((int)fixedT.Details["columns_forced"]! > 0);
        Assert.Contains(fixedLogs, s => s.StartsWith("SPP warning: the slowest layer needs", StringComparison.Ordinal));
        Assert.Contains(fixedLogs, s => s.StartsWith("SPP warning: ", StringComparison.Ordinal) && s.Contains("removed columns were forced by L1 rank", StringComparison.Ordinal));
    }

    [Fact]
    public void AMacsTargetStopsWhenTheCompactedModelMeetsIt()
    {
        long dense = new Model(TwoConvGraph(), 3).Graph.Macs();
        var (outcome, logs) = PruneTwoConv(new SppOptions { TargetMacs = 0.6, A = 0.2, PruneEpochs = 12 });
        double kept = (double)outcome.Pruned.Graph.Macs() / dense;
        Assert.True(kept <= 0.6 + 1e-12, $"kept {kept}");
        Assert.Equal(0.6, (double)outcome.Details["target_macs"]!);
        // The speedup that asks for the same share through the column ratio alone cuts at least as much: the MACs
        // target stops the layers as soon as the compacted model meets it.
        double convMacs = SppPruner.ConvMacs(TwoConvGraph());
        double speedup = convMacs / (0.6 * dense - (dense - convMacs));
        var (bySpeedup, _) = PruneTwoConv(new SppOptions { TargetSpeedup = speedup, A = 0.2, PruneEpochs = 12 });
        Assert.True(kept >= (double)bySpeedup.Pruned.Graph.Macs() / dense - 1e-12);
        Assert.Equal(outcome.Details["layers"]![0]!["target_columns"]!.GetValue<int>(), bySpeedup.Details["layers"]![0]!["target_columns"]!.GetValue<int>());
        Assert.Contains(logs, s => s.StartsWith("SPP iteration", StringComparison.Ordinal));

        var e = Assert.Throws<LopperInputException>(() => new SppOptions { TargetMacs = 0.5, TargetSpeedup = 2 }.Validate());
        Assert.StartsWith("spp: give exactly one of TargetMacs F, TargetSpeedup S or Ratios", e.Message);
        e = Assert.Throws<LopperInputException>(() => new SppOptions { TargetMacs = 1 }.Validate());
        Assert.Equal("TargetMacs must be in (0, 1), got 1", e.Message);
    }

    [Fact]
    public void TheStemAndTinyLayersStayWholeUnderASpeedupTarget()
    {
        var model = new Model(TwoConvGraph(), 1);
        Assert.Equal(["conv1"], SppPruner.StemConvolutions(model.Graph).Select(i => model.Graph.Nodes[i].Name));
        var plan = SppPruner.PlanLayers(model, new SppOptions { TargetSpeedup = 2 }.Validate());
        Assert.Equal("conv2", Assert.Single(plan.Layers).Node);
        Assert.Equal(("conv1", "stem"), Assert.Single(plan.Whole));
        // The ratio over the rest still meets the whole-network target once the layer reaches its column count.
        var conv1Macs = plan.TotalConvMacs - plan.Layers[0].Macs;
        var l = plan.Layers[0];
        Assert.True(SppMath.Speedup([(conv1Macs, 0.0), (l.Macs, (double)l.TargetCount / l.Columns)]) >= 2 - 1e-9);

        // conv2 has 4·3·3 = 36 columns: under MinColumns 40 nothing is left to prune.
        Assert.Throws<LopperInputException>(() => SppPruner.PlanLayers(model, new SppOptions { TargetSpeedup = 1.2, MinColumns = 40 }.Validate()));
        // IncludeStem alone still leaves the 9-column stem whole by its depth; with MinColumns 0 both are pruned.
        Assert.Equal(("conv1", "9 columns < MinColumns 32"), Assert.Single(SppPruner.PlanLayers(model, new SppOptions { TargetSpeedup = 2, IncludeStem = true }.Validate()).Whole));
        Assert.Equal(2, SppPruner.PlanLayers(model, new SppOptions { TargetSpeedup = 2, IncludeStem = true, MinColumns = 0 }.Validate()).Layers.Count);

        // On resnet20 the stem goes whole, and so does the 1x1 projection reading 16 channels (16 columns);
        // every 3x3 convolution has at least 16·3·3 columns and is pruned.
        var resnet = new Model(Lopper.Models.ModelZoo.Create("resnet20", [1, 8, 8], 3), 1);
        var rplan = SppPruner.PlanLayers(resnet, new SppOptions { TargetSpeedup = 2 }.Validate());
        Assert.Single(rplan.Whole, w => w.Reason == "stem");
        var byName = resnet.Graph.Nodes.Where(n => n.Op is Conv2dOp).ToDictionary(n => n.Name, n => (Conv2dOp)n.Op);
        Assert.All(rplan.Whole.Where(w => w.Reason != "stem"), w => Assert.True(byName[w.Node].K < 32));
        Assert.All(rplan.Layers, x => Assert.True(byName[x.Node].K >= 32));
        Assert.Equal(byName.Count, rplan.Layers.Count + rplan.Whole.Count);

        // The pruned model really keeps every tap of the stem.
        var (outcome, _) = PruneTwoConv(new SppOptions { TargetSpeedup = 1.5, A = 0.2, PruneEpochs = 12 });
        var conv1 = (Conv2dOp)outcome.Pruned.Graph.Nodes.First(n => n.Name == "conv1").Op;
        Assert.Null(conv1.Columns);
        Assert.Equal("conv1", (string)outcome.Details["kept_whole"]![0]!["layer"]!);
    }

    [Fact]
    public void ProgressReportsCarryThePhaseEpochCount()
    {
        var reports = new List<TrainProgress>();
        var (outcome, logs) = PruneTwoConv(new SppOptions { TargetSpeedup = 1.5, PruneEpochs = 3, Interval = 1000 }, new Recorder(reports));
        Assert.Equal(3, (int)outcome.Details["prune_epochs_used"]!);
        Assert.NotEmpty(reports);
        Assert.All(reports, r => Assert.Equal(3, r.Epochs));
        Assert.Equal([0, 1, 2], reports.Select(r => r.Epoch).Distinct().Order());
        // Nothing reached probability 1 in one update: every removed column was forced, and the log says so.
        Assert.Equal((int)outcome.Details["columns_forced"]!, outcome.Details["layers"]!.AsArray().Sum(l => (int)l!["pruned_columns"]!));
        Assert.Contains(logs, s => s.Contains("removed columns were forced by L1 rank", StringComparison.Ordinal));
    }

    private sealed class Recorder(List<TrainProgress> reports) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress value) => reports.Add(value);
    }

    private static (PruneOutcome Outcome, List<string> Logs) PruneTwoConv(SppOptions options, IProgress<TrainProgress>? progress = null)
    {
        var model = new Model(TwoConvGraph(), 3);
        var train = TinyTask.Data(48, 1);
        var (mean, std) = train.ChannelStats();
        var logs = new List<string>();
        var ctx = new PruneContext
        {
            Model = model,
            Train = new DataLoader(train, 8, 5, shuffle: true, mean, std),
            Test = new DataLoader(TinyTask.Data(16, 2), 16, 5, shuffle: false, mean, std),
            TrainConfig = TinyTask.Config(1) with { Lr = 0.01f },
            Seed = 5,
            Log = logs.Add,
            Progress = progress,
        };
        return (new SppPruner(options).Prune(ctx), logs);
    }

    private static ModelGraph TwoConvGraph()
    {
        var b = new GraphBuilder([1, 8, 8]);
        var x = b.Conv("conv1", b.Input, 4, 3, padding: 1);
        x = b.BatchNorm("bn1", x);
        x = b.Relu("relu1", x);
        x = b.Conv("conv2", x, 6, 3, padding: 1);
        x = b.BatchNorm("bn2", x);
        x = b.Relu("relu2", x);
        x = b.MaxPool("pool", x, 2, 2);
        x = b.Flatten("flatten", x);
        b.Linear("fc", x, 3);
        return b.Build("twoconv");
    }

    /// <summary>The tiny task's single 3x3 conv on one channel: 4 filters, 9 columns, random weights.</summary>
    private static (Model, SppLayer, SppHook) OneLayer(double ratio, int interval, double a)
    {
        var model = new Model(TinyTask.Graph(), 2);
        var opts = new SppOptions { Ratios = new Dictionary<string, double> { ["conv1"] = ratio }, Interval = interval, A = a }.Validate();
        var (layers, total) = SppPruner.PlanLayers(model, opts);
        return (model, layers[0], new SppHook(layers, opts, 9, total));
    }
}
