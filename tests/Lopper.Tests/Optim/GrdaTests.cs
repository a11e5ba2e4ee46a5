using Lopper.Graph;
using Lopper.Io;
using Lopper.Optim;
using Lopper.Pruning.Directional;
using Lopper.Tensors;
using Lopper.Tests.Data;
using Lopper.Tests.Training;
using Lopper.Training;

namespace Lopper.Tests.Optim;

// Sets Parallelism.Threads, which changes floating-point summation order: never beside other tests.
[Collection(Lopper.Tests.Graph.SerialGraphCollection.Name)]
public class GrdaTests
{
    /// <summary>A linear layer 4 → 1: fc.weight [1,4] and fc.bias [1].</summary>
    private static Model Linear4(float[] w, float bias)
    {
        var b = new GraphBuilder([1, 2, 2]);
        b.Linear("fc", b.Flatten("flatten", b.Input), 1);
        var m = new Model(b.Build("lin4"));
        w.CopyTo(m.Find("fc.weight")!.Value.Span);
        m.Find("fc.bias")!.Value.Data[0] = bias;
        return m;
    }

    private static void SetGrads(Model m, float[] gw, float gb = 0f)
    {
        gw.CopyTo(m.Find("fc.weight")!.Grad!.Span);
        m.Find("fc.bias")!.Grad!.Data[0] = gb;
    }

    private static List<Parameter> Trainable(Model m) => m.Parameters.Where(p => p.Trainable).ToList();

    [Fact]
    public void FourStepsWithALearningRateDropMatchHandValues()
    {
        // c = 0.4, mu = 0.5, so c·lr^(mu+1/2) = 0.4·lr and the increments are 0.4·lr·(√n − √(n−1)).
        var m = Linear4([0.3f, -0.2f, 0.05f, 1.0f], 0.1f);
        var opt = new Grda(0.4, 0.5);
        var ps = Trainable(m);
        float[] W() => m.Find("fc.weight")!.Value.Data;
        float lrHigh = 0.5f, lrLow = 0.05f;

        // Step 1, lr 0.5: a = [0.15, -0.3, 0.35, 1.0], T = 0.2.
        SetGrads(m, [0.3f, 0.2f, -0.6f, 0f]);
        opt.Step(ps, lrHigh);
        Assert.Equal(0.2, opt.Threshold, 1e-12);
        AssertClose([0f, -0.1f, 0.15f, 0.8f], W());
        Assert.Equal(0f, m.Find("fc.bias")!.Value.Data[0]); // |0.1| <= 0.2: biases are covered by default

        // Step 2, lr 0.5: a = [0.45, -0.3, 0.25, 0.8], T = 0.2·√2. The first weight revives.
        SetGrads(m, [-0.6f, 0f, 0.2f, 0.4f]);
        opt.Step(ps, lrHigh);
        double t2 = 0.2 * Math.Sqrt(2);
        Assert.Equal(t2, opt.Threshold, 1e-12);
        AssertClose([(float)(0.45 - t2), (float)(-0.3 + t2), 0f, (float)(0.8 - t2)], W());

        // Step 3, lr 0.05: a = [0.4, -0.2, 0.25, 0.8]; T grows by only 0.02·(√3 − √2).
        SetGrads(m, [1.0f, -2.0f, 0f, 0f]);
        opt.Step(ps, lrLow);
        double t3 = t2 + 0.4 * (double)lrLow * (Math.Sqrt(3) - Math.Sqrt(2));
        Assert.Equal(0.28919945, t3, 1e-8);
        Assert.Equal(t3, opt.Threshold, 1e-12);
        // Recomputing from the current lr (the early Keras port) would give 0.4·0.05·√3 ≈ 0.035 and revive everything.
        Assert.True(opt.Threshold > t2);
        AssertClose([(float)(0.4 - t3), 0f, 0f, (float)(0.8 - t3)], W());

        // Step 4, lr 0.05: a = [0.4, -0.2, 0.35, 0.8], T grows by 0.02·(2 − √3).
        SetGrads(m, [0f, 0f, -2.0f, 0f]);
        opt.Step(ps, lrLow);
        double t4 = t3 + 0.4 * (double)lrLow * (2 - Math.Sqrt(3));
        Assert.Equal(0.29455844, t4, 1e-8);
        Assert.Equal(t4, opt.Threshold, 1e-12);
        AssertClose([(float)(0.4 - t4), 0f, (float)(0.35 - t4), (float)(0.8 - t4)], W());
        Assert.Equal(4, opt.Steps);
    }

    [Fact]
    public void ThresholdMatchesClosedFormForConstantLrAndNeverDecreases()
    {
        // Spec example: c = 0.005, mu = 0.55, lr = 0.1, one ImageNet epoch (5005 steps) gives T ≈ 0.0483.
        double t = 0;
        for (long n = 1; n <= 5005; n++) t = Grda.NextThreshold(t, n, 0.1, 0.005, 0.55);
        double closed = 0.005 * Math.Pow(0.1, 1.05) * Math.Pow(5005, 0.55);
        Assert.Equal(closed, t, closed * 1e-12);
        Assert.Equal(0.0483, t, 1e-4);

        // Piecewise lr with a drop and a rise: the sum of per-step increments, monotone.
        double[] lrs = [0.1, 0.1, 0.01, 0.01, 0.001, 0.1];
        double prev = 0, sum = 0;
        for (int k = 1; k <= lrs.Length; k++)
        {
            double next = Grda.NextThreshold(prev, k, lrs[k - 1], 0.005, 0.6);
            sum += 0.005 * Math.Pow(lrs[k - 1], 1.1) * (Math.Pow(k, 0.6) - Math.Pow(k - 1, 0.6));
            Assert.True(next >= prev);
            Assert.Equal(sum, next, 1e-15);
            prev = next;
        }
    }

    [Fact]
    public void ZeroCIsPlainSgdWithoutMomentum()
    {
        var rng = new Rng(3);
        float[] w0 = [0.3f, -0.2f, 0.05f, 1.0f];
        var a = Linear4(w0, 0.1f);
        var b = Linear4(w0, 0.1f);
        var grda = new Grda(0, 0.55);
        var sgd = new Sgd(momentum: 0, weightDecay: 0);
        for (int s = 0; s < 5; s++)
        {
            var g = Enumerable.Range(0, 4).Select(_ => (float)rng.NextNormal()).ToArray();
            float gb = (float)rng.NextNormal();
            SetGrads(a, g, gb);
            SetGrads(b, g, gb);
            float lr = s < 3 ? 0.1f : 0.01f;
            grda.Step(Trainable(a), lr);
            sgd.Step(Trainable(b), lr);
        }
        Assert.Equal(TinyTask.Weights(b), TinyTask.Weights(a));
        Assert.Equal(0, grda.Threshold);
    }

    [Fact]
    public void ZerosAreExactlyTheAccumulatorsWithinTheThreshold()
    {
        var rng = new Rng(11);
        var model = new Model(TinyTask.Graph(), 5);
        var ps = Trainable(model);
        var opt = new Grda(0.05, 0.6);
        for (int s = 0; s < 20; s++)
        {
            foreach (var p in ps) for (int i = 0; i < p.Grad!.Length; i++) p.Grad.Data[i] = (float)(0.5 * rng.NextNormal());
            opt.Step(ps, 0.1f);
        }
        float t = (float)opt.Threshold;
        int zeros = 0;
        foreach (var p in ps)
        {
            var acc = opt.State[Grda.AccumulatorPrefix + p.Name].Data;
            var w = p.Value.Data;
            for (int i = 0; i < w.Length; i++)
            {
                Assert.Equal(MathF.Abs(acc[i]) <= t, w[i] == 0f);
                if (w[i] != 0) Assert.Equal(MathF.Sign(acc[i]) * (MathF.Abs(acc[i]) - t), w[i]);
                else zeros++;
            }
        }
        Assert.True(zeros > 0);
        var stats = SparsityStats.Of(model);
        Assert.Equal(zeros, stats.Zeros);
    }

    [Fact]
    public void WeightsCoverageLeavesOneDimensionalTensorsToPlainSgd()
    {
        var m = Linear4([0.3f, -0.2f, 0.05f, 1.0f], 0.1f);
        var opt = new Grda(0.4, 0.5, GrdaCoverage.Weights);
        SetGrads(m, [0.3f, 0.2f, -0.6f, 0f], 0.1f);
        opt.Step(Trainable(m), 0.5f);
        AssertClose([0f, -0.1f, 0.15f, 0.8f], m.Find("fc.weight")!.Value.Data);
        Assert.Equal(0.05f, m.Find("fc.bias")!.Value.Data[0], 1e-7f);
        Assert.False(opt.State.ContainsKey(Grda.AccumulatorPrefix + "fc.bias"));
    }

    [Fact]
    public void StateRoundTripsThroughSafetensorsAndContinuesBitIdentically()
    {
        using var dir = new TempDir();
        var rng = new Rng(5);
        var grads = Enumerable.Range(0, 6).Select(_ => Enumerable.Range(0, 5).Select(_ => (float)rng.NextNormal()).ToArray()).ToList();
        float[] lrs = [0.3f, 0.3f, 0.3f, 0.03f, 0.03f, 0.03f];
        float[] w0 = [0.3f, -0.2f, 0.05f, 1.0f];

        var full = Linear4(w0, 0.1f);
        var fullOpt = new Grda(0.07, 0.6);
        for (int s = 0; s < 6; s++) { SetGrads(full, grads[s][..4], grads[s][4]); fullOpt.Step(Trainable(full), lrs[s]); }

        var first = Linear4(w0, 0.1f);
        var firstOpt = new Grda(0.07, 0.6);
        for (int s = 0; s < 3; s++) { SetGrads(first, grads[s][..4], grads[s][4]); firstOpt.Step(Trainable(first), lrs[s]); }
        var path = dir.File("opt.safetensors");
        SafeTensors.Save(path, firstOpt.State.OrderBy(kv => kv.Key, StringComparer.Ordinal));
        var (saved, _) = SafeTensors.Load(path);

        var resumed = Linear4([9f, 9f, 9f, 9f], 9f); // weights come from the accumulator, not from here
        var resumedOpt = new Grda(0.07, 0.6);
        resumedOpt.LoadState(saved, firstOpt.Steps);
        Assert.Equal(firstOpt.Threshold, resumedOpt.Threshold);
        for (int s = 3; s < 6; s++) { SetGrads(resumed, grads[s][..4], grads[s][4]); resumedOpt.Step(Trainable(resumed), lrs[s]); }
        Assert.Equal(TinyTask.Weights(full), TinyTask.Weights(resumed));
        Assert.Equal(fullOpt.Threshold, resumedOpt.Threshold);
        Assert.Equal(6, resumedOpt.Steps);

        var noThreshold = saved.Where(kv => kv.Key != "grda/threshold").ToDictionary();
        Assert.Throws<LopperInputException>(() => new Grda(0.07, 0.6).LoadState(noThreshold, 3));
        Assert.Throws<LopperInputException>(() => new Grda(0.07, 0.6).LoadState(saved, 4)); // step mismatch
        Assert.Throws<LopperInputException>(() => new Grda(0.07, 0.6).LoadState(new Dictionary<string, Tensor> { ["momentum/x"] = new Tensor(1) }, 0));
    }

    [Fact]
    public void RejectsBadKnobs()
    {
        Assert.Throws<LopperInputException>(() => new Grda(-1, 0.55));
        Assert.Throws<LopperInputException>(() => new Grda(0.005, 0));
        Assert.Throws<LopperInputException>(() => new Grda(double.NaN, 0.55));
    }

    private static TrainConfig GrdaConfig(int epochs) => TinyTask.Config(epochs) with
    {
        Optimizer = "grda", Momentum = 0, WeightDecay = 0, GrdaC = 1.0, GrdaMu = 0.6,
    };

    [Fact]
    public void ChannelStructureZerosWholeChannelsThatCompactAwayAndKeepsTheGroupProx()
    {
        var train = TinyTask.Data(96, 1);
        var test = TinyTask.Data(30, 2);
        int before = Parallelism.Threads;
        Parallelism.Threads = 1;
        try
        {
            var trainer = TinyTask.NewTrainer(GrdaConfig(3) with { GrdaStructure = GrdaStructure.Channels, GrdaC = 3.0 }, null, train, test);
            trainer.Run();
            var m = trainer.Model;
            var w = m.Find("conv1.weight")!.Value;
            float[] gamma = m.Find("bn1.weight")!.Value.Data, beta = m.Find("bn1.bias")!.Value.Data;
            int size = w.Length / 4, dead = 0;
            for (int c = 0; c < 4; c++)
            {
                bool filterZero = w.Span.Slice(c * size, size).IndexOfAnyExcept(0f) < 0;
                // A channel is all zero or all alive: filter, bias and batch-norm go together.
                Assert.Equal(filterZero, gamma[c] == 0 && beta[c] == 0);
                if (m.Find("conv1.bias") is { } bias) Assert.Equal(filterZero, bias.Value.Data[c] == 0);
                if (filterZero) dead++;
            }
            Assert.InRange(dead, 1, 3);
            // The dead channels compact away and the outputs stay.
            var compact = Lopper.Structure.EffectiveCost.Compact(m);
            Assert.Equal(4 - dead, compact.Find("conv1.weight")!.Value.Shape[0]);
            var x = Lopper.Tests.Structure.StructureFixtures.Input(m, 2, 3);
            var (a, b) = (Lopper.Tests.Structure.StructureFixtures.Run(m, x), Lopper.Tests.Structure.StructureFixtures.Run(compact, x));
            for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 4);
        }
        finally { Parallelism.Threads = before; }

        // The group proximal step by hand on a fresh step: every alive channel's values are its accumulators
        // times max(0, 1 - T sqrt(n) / |a|), one factor for the filter, bias and batch-norm values together.
        Parallelism.Threads = 1;
        try
        {
            var one = TinyTask.NewTrainer(GrdaConfig(1) with { GrdaStructure = GrdaStructure.Channels, GrdaC = 0.05 }, null, train, test);
            one.Run();
            var g = (Grda)one.Optimizer;
            var state = g.State;
            string[] names = ["conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias"];
            var present = names.Where(nm => one.Model.Find(nm) is not null).ToArray();
            for (int c = 0; c < 4; c++)
            {
                double sumSq = 0; int n = 0;
                foreach (var nm in present)
                {
                    var acc = state["accumulator/" + nm].Data;
                    int per = acc.Length / 4;
                    for (int i = c * per; i < (c + 1) * per; i++) { sumSq += (double)acc[i] * acc[i]; n++; }
                }
                float f = (float)Math.Max(0, 1 - g.Threshold * Math.Sqrt(n) / Math.Sqrt(sumSq));
                foreach (var nm in present)
                {
                    var acc = state["accumulator/" + nm].Data;
                    var val = one.Model.Find(nm)!.Value.Data;
                    int per = acc.Length / 4;
                    for (int i = c * per; i < (c + 1) * per; i++) Assert.Equal(acc[i] * f, val[i], 5);
                }
            }
        }
        finally { Parallelism.Threads = before; }
    }

    [Theory]
    [InlineData(0.5, 2)]
    [InlineData(0.75, 3)]
    public void AMacsTargetSteersTheChannelThresholdToTheBudget(double target, int channels)
    {
        // conv1 has 4 channels of 624 MACs each (its own 576 and the classifier's 48 reading it) out of 2,496:
        // a quarter of the MACs per channel, so the budgets are whole channels.
        var train = TinyTask.Data(96, 1);
        var test = TinyTask.Data(30, 2);
        int before = Parallelism.Threads;
        Parallelism.Threads = 1;
        try
        {
            var config = GrdaConfig(12) with { GrdaStructure = GrdaStructure.Channels, GrdaC = 0.05, GrdaTargetMacs = target };
            var trainer = TinyTask.NewTrainer(config, null, train, test);
            trainer.Run();
            var g = (Grda)trainer.Optimizer;
            Assert.Equal(target, g.SteeredMacsKept!.Value, 6);
            var compact = Lopper.Structure.EffectiveCost.Compact(trainer.Model);
            Assert.Equal(channels, compact.Find("conv1.weight")!.Value.Shape[0]);
            Assert.Equal(target, (double)compact.Graph.Macs() / trainer.Model.Graph.Macs(), 6);
            // Live channels keep gRDA's elementwise soft-threshold of their accumulators; removed ones are zero.
            var acc = g.State["accumulator/conv1.weight"].Data;
            var w = trainer.Model.Find("conv1.weight")!.Value.Data;
            float t = (float)g.Threshold;
            int per = w.Length / 4, live = 0;
            for (int c = 0; c < 4; c++)
            {
                bool removed = w.AsSpan(c * per, per).IndexOfAnyExcept(0f) < 0;
                if (!removed) live++;
                for (int i = c * per; i < (c + 1) * per; i++)
                    Assert.Equal(removed ? 0f : acc[i] - Math.Clamp(acc[i], -t, t), w[i]);
            }
            Assert.Equal(channels, live);

            // Without the target the same c leaves every channel alive: the budget is the steering's doing.
            var plain = TinyTask.NewTrainer(config with { GrdaTargetMacs = null }, null, train, test);
            plain.Run();
            Assert.Null(((Grda)plain.Optimizer).SteeredMacsKept);
            Assert.Equal(4, Lopper.Structure.EffectiveCost.Compact(plain.Model).Find("conv1.weight")!.Value.Shape[0]);
        }
        finally { Parallelism.Threads = before; }
    }

    [Fact]
    public void ASteeredRunResumesBitIdenticallyAndChecksItsRemovedChannels()
    {
        using var dir = new TempDir();
        var train = TinyTask.Data(96, 1);
        var test = TinyTask.Data(30, 2);
        var config = GrdaConfig(6) with { GrdaStructure = GrdaStructure.Channels, GrdaC = 0.05, GrdaTargetMacs = 0.5 };
        int before = Parallelism.Threads;
        Parallelism.Threads = 1;
        try
        {
            var full = TinyTask.NewTrainer(config, dir.File("full"), train, test);
            full.Run();
            var resumed = KilledAndResumed(config, dir.File("killed"), 3, train, test);
            Assert.Equal(TinyTask.Weights(full.Model), TinyTask.Weights(resumed.Model));
            Assert.Equal(((Grda)full.Optimizer).State["grda/removed"].Data, ((Grda)resumed.Optimizer).State["grda/removed"].Data);

            // A checkpoint without the removed channels cannot continue a steered run (they would come back).
            var state = ((Grda)full.Optimizer).State.Where(kv => kv.Key != "grda/removed").ToDictionary(kv => kv.Key, kv => kv.Value);
            var fresh = TinyTask.NewTrainer(config, null, train, test);
            var e = Assert.Throws<LopperInputException>(() => fresh.Optimizer.LoadState(state, full.Optimizer.Steps));
            Assert.Contains("missing 'grda/removed'", e.Message);
            var bad = new Dictionary<string, Tensor>(((Grda)full.Optimizer).State);
            bad["grda/removed"] = new Tensor(4);
            bad["grda/removed"].Data[1] = 0.5f;
            e = Assert.Throws<LopperInputException>(() => fresh.Optimizer.LoadState(bad, full.Optimizer.Steps));
            Assert.Equal("optimizer state: 'grda/removed' must hold 0 or 1, got 0.5 at 1", e.Message);
        }
        finally { Parallelism.Threads = before; }
    }

    [Theory]
    [InlineData(0.0, "channels", 0.05, "grda_target_macs must be in (0, 1], got 0")]
    [InlineData(0.5, "none", 0.05, "grda_target_macs must be given only with grda_structure channels")]
    public void AMacsTargetIsChecked(double target, string structure, double c, string message)
    {
        var config = GrdaConfig(1) with { GrdaTargetMacs = target, GrdaC = c, GrdaStructure = structure == "channels" ? GrdaStructure.Channels : GrdaStructure.None };
        var e = Assert.Throws<LopperInputException>(() => config.Validate(n => n));
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void AParamsTargetPutsTheScheduledShareOfValuesAboveTheThresholdAtEveryCheck()
    {
        // fc: 100 weights and a bias (101 values, all covered); 100 steps, so every second step is a check and the
        // schedule reaches the 0.3 target at step 70.
        var b = new GraphBuilder([1, 10, 10]);
        b.Linear("fc", b.Flatten("flatten", b.Input), 1);
        var m = new Model(b.Build("lin100"));
        var rng = new Rng(3);
        foreach (var p in Trainable(m)) for (int i = 0; i < p.Value.Length; i++) p.Value.Data[i] = (float)rng.NextNormal();
        var opt = new Grda(c: 1.0, mu: 0.6);
        opt.UseParamsTarget(m, 0.3, 100);
        var ps = Trainable(m);
        for (int step = 1; step <= 100; step++)
        {
            foreach (var p in ps) for (int i = 0; i < p.Value.Length; i++) p.Grad!.Data[i] = (float)rng.NextNormal();
            opt.Step(ps, 0.05f);
            int nonzero = ps.Sum(p => p.Value.Span.ToArray().Count(v => v != 0));
            double goal = 1 - 0.7 * Math.Min(1, step / 70.0);
            Assert.Equal(goal, opt.SteeredParamsGoal!.Value, 12);
            if (step % 2 == 0) Assert.Equal((int)Math.Round(goal * 101), nonzero);
            // Every covered value is the soft-threshold of its accumulator at the steered threshold.
            float t = (float)opt.Threshold;
            foreach (var p in ps)
            {
                var a = opt.State[Grda.AccumulatorPrefix + p.Name].Data;
                for (int i = 0; i < p.Value.Length; i++) Assert.Equal(a[i] - Math.Clamp(a[i], -t, t), p.Value.Data[i]);
            }
        }
        Assert.Equal(30, ps.Sum(p => p.Value.Span.ToArray().Count(v => v != 0)));
    }

    [Fact]
    public void AParamsTargetedRunEndsOnItsBudgetAndResumesBitIdentically()
    {
        using var dir = new TempDir();
        var train = TinyTask.Data(96, 1);
        var test = TinyTask.Data(30, 2);
        var config = GrdaConfig(4) with { GrdaC = 0.001, GrdaTargetParams = 0.4 };
        int before = Parallelism.Threads;
        Parallelism.Threads = 1;
        try
        {
            var full = TinyTask.NewTrainer(config, dir.File("full"), train, test);
            full.Run();
            long total = full.Model.Parameters.Where(p => p.Trainable).Sum(p => (long)p.Value.Length);
            long nonzero = full.Model.Parameters.Where(p => p.Trainable).Sum(p => (long)p.Value.Span.ToArray().Count(v => v != 0));
            Assert.Equal(Math.Round(0.4 * total), nonzero);
            var resumed = KilledAndResumed(config, dir.File("killed"), 2, train, test);
            Assert.Equal(TinyTask.Weights(full.Model), TinyTask.Weights(resumed.Model));

            // Without the target the same c keeps far more: the budget is the steering's doing.
            var plain = TinyTask.NewTrainer(config with { GrdaTargetParams = null }, null, train, test);
            plain.Run();
            Assert.Null(((Grda)plain.Optimizer).SteeredParamsGoal);
            long plainNonzero = plain.Model.Parameters.Where(p => p.Trainable).Sum(p => (long)p.Value.Span.ToArray().Count(v => v != 0));
            Assert.True(plainNonzero > 0.9 * total, $"{plainNonzero} of {total}");
        }
        finally { Parallelism.Threads = before; }
    }

    [Theory]
    [InlineData(0.0, "none", "grda_target_params must be in (0, 1], got 0")]
    [InlineData(1.5, "none", "grda_target_params must be in (0, 1], got 1.5")]
    [InlineData(0.5, "channels", "grda_target_params must be given only with grda_structure none")]
    public void AParamsTargetIsChecked(double target, string structure, string message)
    {
        var config = GrdaConfig(1) with { GrdaTargetParams = target, GrdaStructure = structure == "channels" ? GrdaStructure.Channels : GrdaStructure.None };
        var e = Assert.Throws<LopperInputException>(() => config.Validate(n => n));
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void TrainerRecordsSparsityPerEpochAndResumesBitIdentically()
    {
        using var dir = new TempDir();
        var train = TinyTask.Data(96, 1);
        var test = TinyTask.Data(30, 2);
        var config = GrdaConfig(3);
        int before = Parallelism.Threads;
        Parallelism.Threads = 1;
        try
        {
            var full = TinyTask.NewTrainer(config, dir.File("full"), train, test);
            full.AddHook(new SparsityHook());
            full.Run();
            var last = full.History[^1]!.AsObject();
            double sparsity = (double)last["sparsity"]!;
            Assert.InRange(sparsity, 0.01, 0.999);
            Assert.Equal(SparsityStats.Of(full.Model).Sparsity, sparsity);
            Assert.True((double)last["l2_over_l1"]! > 0);
            var layers = last["layer_sparsity"]!.AsObject();
            Assert.Equal(["conv1", "fc"], layers.Select(kv => kv.Key).ToArray());
            var run = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(dir.File("full/run.json")))!;
            Assert.Equal(sparsity, (double)run["history"]![2]!["sparsity"]!);
            Assert.Equal("grda", (string)run["config"]!["optimizer"]!);

            var resumed = KilledAndResumed(config, dir.File("killed"), 2, train, test);
            Assert.Equal(TinyTask.Weights(full.Model), TinyTask.Weights(resumed.Model));
        }
        finally { Parallelism.Threads = before; }
    }

    // A run into `run` killed at the start of epoch `killAt` + 1, then resumed from its folder and run to the end.
    private static Trainer KilledAndResumed(TrainConfig config, string run, int killAt, Lopper.Data.Dataset train, Lopper.Data.Dataset test)
    {
        var killed = TinyTask.NewTrainer(config, run, train, test);
        killed.AddHook(new KillAfterEpochs(killAt));
        Assert.Throws<OperationCanceledException>(killed.Run);
        var resumed = TinyTask.NewTrainer(config, run, train, test);
        resumed.RestoreFrom(run);
        resumed.Run();
        return resumed;
    }

    private sealed class KillAfterEpochs(int epochs) : ITrainingHook
    {
        public void BeforeStep(Model model, int epoch, int step)
        {
            if (epoch == epochs) throw new OperationCanceledException("simulated kill");
        }
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] == 0f) Assert.Equal(0f, actual[i]); // exact zeros, no tolerance
            else Assert.Equal(expected[i], actual[i], 1e-6f);
        }
    }
}
