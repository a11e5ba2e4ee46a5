using Lopper.Graph;
using Lopper.Io;
using Lopper.Tests.Data;
using Lopper.Training;

namespace Lopper.Tests.Training;

// Sets Parallelism.Threads, which changes floating-point summation order: never beside other tests.
[Collection(Lopper.Tests.Graph.SerialGraphCollection.Name)]
public class TrainerTests
{
    private sealed class KillAt(int epoch) : ITrainingHook
    {
        public void BeforeStep(Model model, int e, int step)
        {
            if (e == epoch) throw new OperationCanceledException("simulated kill");
        }
    }

    private static T WithThreads<T>(int threads, Func<T> body)
    {
        int before = Parallelism.Threads;
        Parallelism.Threads = threads;
        try { return body(); }
        finally { Parallelism.Threads = before; }
    }

    [Fact]
    public void TrainingLearnsTheTinyTask()
    {
        var train = TinyTask.Data(192, 1);
        var test = TinyTask.Data(60, 2);
        var trainer = TinyTask.NewTrainer(TinyTask.Config(4), null, train, test);
        trainer.Run();
        Assert.True((double)trainer.History[^1]!["test_accuracy"]! > 0.9, $"accuracy {trainer.History[^1]!["test_accuracy"]}");
    }

    [Fact]
    public void SameSeedOneThreadGivesBitIdenticalWeights()
    {
        var train = TinyTask.Data(96, 1);
        var test = TinyTask.Data(30, 2);
        var a = WithThreads(1, () => { var t = TinyTask.NewTrainer(TinyTask.Config(2), null, train, test); t.Run(); return TinyTask.Weights(t.Model); });
        var b = WithThreads(1, () => { var t = TinyTask.NewTrainer(TinyTask.Config(2), null, train, test); t.Run(); return TinyTask.Weights(t.Model); });
        Assert.Equal(a, b);
        var other = WithThreads(1, () => { var t = TinyTask.NewTrainer(TinyTask.Config(2) with { Seed = 8 }, null, train, test); t.Run(); return TinyTask.Weights(t.Model); });
        Assert.NotEqual(a, other);
    }

    [Fact]
    public void KilledRunResumesToTheSameWeights()
    {
        using var dir = new TempDir();
        var train = TinyTask.Data(96, 1);
        var test = TinyTask.Data(30, 2);
        var config = TinyTask.Config(3);
        var full = WithThreads(1, () => { var t = TinyTask.NewTrainer(config, dir.File("full"), train, test); t.Run(); return TinyTask.Weights(t.Model); });

        var killed = TinyTask.NewTrainer(config, dir.File("killed"), train, test);
        killed.AddHook(new KillAt(2));
        WithThreads(1, () => Assert.Throws<OperationCanceledException>(killed.Run));
        Assert.Equal(2, killed.CompletedEpochs);

        var resumedModel = new Model(ModelJson.Load(dir.File("killed/model.json")));
        var resumed = WithThreads(1, () =>
        {
            var t = TinyTask.NewTrainer(config, dir.File("killed"), train, test);
            var m = t.Model;
            t.RestoreFrom(dir.File("killed"));
            Assert.Equal(2, t.CompletedEpochs);
            t.Run();
            return TinyTask.Weights(m);
        });
        Assert.Equal(full, resumed);
        Assert.Empty(Directory.GetFiles(dir.File("killed"), "*.tmp"));
        Assert.True(File.Exists(dir.File("killed/best/weights.safetensors")));
    }

    [Fact]
    public void NonFiniteLossStopsWithAClearError()
    {
        var train = TinyTask.Data(48, 1);
        var trainer = TinyTask.NewTrainer(TinyTask.Config(1), null, train, train);
        trainer.Model.Find("fc.weight")!.Value.Data[0] = float.NaN;
        var e = Assert.Throws<LopperRunException>(trainer.Run);
        Assert.Contains("NaN", e.Message);
        Assert.Contains("epoch 1", e.Message);
    }

    [Fact]
    public void ResumeRejectsCheckpointFromAnotherArchitecture()
    {
        using var dir = new TempDir();
        var train = TinyTask.Data(48, 1);
        var t = TinyTask.NewTrainer(TinyTask.Config(1), dir.File("run"), train, train);
        t.Run();
        var b = new GraphBuilder([1, 8, 8]);
        var x = b.Conv("conv1", b.Input, 6, 3, padding: 1);
        x = b.BatchNorm("bn1", x);
        x = b.Flatten("flatten", x);
        b.Linear("fc", x, 3);
        var other = new Model(b.Build("other"));
        var (tensors, _) = SafeTensors.Load(dir.File("run/weights.safetensors"));
        var e = Assert.Throws<LopperInputException>(() => ModelStore.LoadWeights(other, tensors, "weights.safetensors"));
        Assert.Contains("conv1.weight", e.Message);
    }
}
