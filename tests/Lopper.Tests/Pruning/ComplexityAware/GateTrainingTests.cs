using Lopper.Data;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Pruning.ComplexityAware;
using Lopper.Structure;
using Lopper.Tests.Training;
using Lopper.Training;

namespace Lopper.Tests.Pruning.ComplexityAware;

/// <summary>The hook inside a real (tiny) training run: projection, permanent deletion, the final compact model.</summary>
// Sets Parallelism.Threads, which changes floating-point summation order: never beside other tests.
[Collection(Lopper.Tests.Graph.SerialGraphCollection.Name)]
public class GateTrainingTests
{
    /// <summary>Watches every step after the gate hook has moved the thetas.</summary>
    private sealed class Spy : ITrainingHook
    {
        public float MinTheta = float.MaxValue, MaxTheta = float.MinValue;
        public List<long> Params { get; } = new();
        public List<HashSet<string>> Keys { get; } = new();
        public bool SawFractional;

        public void AfterBackward(Model model, int epoch, int step)
        {
            foreach (var p in model.Parameters)
                if (p.Owner.Op is GateOp && p.Spec.Name == "theta")
                    foreach (var t in p.Value.Span)
                    {
                        MinTheta = Math.Min(MinTheta, t);
                        MaxTheta = Math.Max(MaxTheta, t);
                        SawFractional |= t is > 0f and < 1f;
                    }
        }

        public void AfterStep(Model model, int epoch, int step)
        {
            Params.Add(ExpectedCost.Actual(model.Graph).Params);
            Keys.Add(GateSet.Of(model).Gates.Select(g => g.Key).ToHashSet());
        }
    }

    private static Trainer NewTrainer(int epochs, Model? model = null, string? outDir = null)
    {
        var config = TinyTask.Config(epochs) with { BatchSize = 16, CropPadding = 0, Flip = false, Lr = 0.05f };
        var train = TinyTask.Data(96, 1);
        var test = TinyTask.Data(24, 2);
        var (mean, std) = train.ChannelStats();
        model ??= new Model(GateFixtures.TinyResNet(), 3);
        return new Trainer(model, config, new DataLoader(train, 16, 7, shuffle: true, mean, std), new DataLoader(test, 12, 7, shuffle: false, mean, std), outDir);
    }

    private sealed class KillAt(int epoch) : ITrainingHook
    {
        public void BeforeStep(Model model, int e, int step)
        {
            if (e == epoch) throw new OperationCanceledException("simulated kill");
        }
    }

    [Fact]
    public void AGatedRunKilledMidwayResumesToTheSameWeights()
    {
        int before = Parallelism.Threads;
        Parallelism.Threads = 1;
        try
        {
            using var dir = new Lopper.Tests.Data.TempDir();
            var options = new ComplexityAwareOptions { Strength = 10, GateLr = 2, CheckEvery = 2, ZeroChecks = 2, WarmupEpochs = 0 };
            long p0 = 0, m0 = 0;
            ComplexityAwareHook Start(Trainer t)
            {
                if (p0 == 0) (p0, m0) = CostCounter.Totals(t.Model.Graph);
                return ComplexityAwareTraining.Attach(t, options, p0, m0, 6);
            }
            var straight = NewTrainer(4, outDir: dir.File("a"));
            var straightHook = Start(straight);
            straight.Run();

            var killed = NewTrainer(4, outDir: dir.File("b"));
            var killedHook = Start(killed);
            killed.AddHook(new KillAt(2));
            Assert.Throws<OperationCanceledException>(() => killed.Run());
            Assert.NotEmpty(killedHook.Removals);
            Assert.Contains(killed.Model.Graph.Nodes, n => n.Op is GateOp);
            var resumed = NewTrainer(4, new Model(ModelJson.Load(dir.File("b/model.json"))), dir.File("b"));
            resumed.RestoreFrom(dir.File("b"));
            var resumedHook = Start(resumed);
            resumed.Run();

            Assert.True(straightHook.Finished && resumedHook.Finished);
            Assert.NotEmpty(straightHook.Removals);
            Assert.Equal(ModelJson.Serialize(straight.Model.Graph), ModelJson.Serialize(resumed.Model.Graph));
            Assert.Equal(TinyTask.Weights(straight.Model), TinyTask.Weights(resumed.Model));
        }
        finally { Parallelism.Threads = before; }
    }

    [Fact]
    public void HighStrengthProjectsIntoTheBoxDeletesForGoodAndEndsWithoutGates()
    {
        var trainer = NewTrainer(3);
        var (p0, m0) = CostCounter.Totals(trainer.Model.Graph);
        var options = new ComplexityAwareOptions { Strength = 40, GateLr = 2, CheckEvery = 2, ZeroChecks = 2, WarmupEpochs = 0 };
        var hook = ComplexityAwareTraining.Attach(trainer, options, p0, m0, 6);
        var spy = new Spy();
        trainer.AddHook(spy);
        trainer.Run();

        Assert.True(spy.MinTheta >= 0f && spy.MaxTheta <= 1f, $"theta left [0, 1]: {spy.MinTheta}..{spy.MaxTheta}");
        Assert.True(spy.SawFractional);
        Assert.NotEmpty(hook.Removals);
        // Deleted structures never come back: the live parameter count never grows and no gate key reappears.
        for (int i = 1; i < spy.Params.Count; i++)
        {
            Assert.True(spy.Params[i] <= spy.Params[i - 1], $"step {i}: params grew from {spy.Params[i - 1]} to {spy.Params[i]}");
            Assert.True(spy.Keys[i].IsSubsetOf(spy.Keys[i - 1]) || spy.Keys[i].Count == 0, $"step {i}: a gate reappeared");
        }
        Assert.True(hook.Finished);
        Assert.DoesNotContain(trainer.Model.Graph.Nodes, n => n.Op is GateOp);
        var last = trainer.History[^1]!;
        Assert.True((long)last["macs"]! < m0, "nothing was pruned");
        Assert.Equal(trainer.Model.Graph.Macs(), (long)last["macs"]!);
        Assert.Equal(trainer.Model.ParameterCount(), (long)last["params"]!);
        // The last epoch's accuracy was measured on the gated model; the folded one must agree.
        var (_, acc) = Evaluator.Evaluate(trainer.Model, new DataLoader(TinyTask.Data(24, 2), 12, 7, shuffle: false, TinyTask.Data(96, 1).ChannelStats().Mean, TinyTask.Data(96, 1).ChannelStats().Std));
        Assert.Equal((double)last["test_accuracy"]!, acc, 9);
    }

    [Fact]
    public void ZeroStrengthKeepsEveryStructure()
    {
        var trainer = NewTrainer(1);
        var (p0, m0) = CostCounter.Totals(trainer.Model.Graph);
        var hook = ComplexityAwareTraining.Attach(trainer, new ComplexityAwareOptions { Strength = 0, CheckEvery = 1, ZeroChecks = 1, WarmupEpochs = 0 }, p0, m0, 6);
        trainer.Run();
        Assert.Empty(hook.Removals);
        Assert.Equal(m0, trainer.Model.Graph.Macs());
        Assert.DoesNotContain(trainer.Model.Graph.Nodes, n => n.Op is GateOp);
    }
}
