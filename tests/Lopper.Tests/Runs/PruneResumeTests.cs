using Lopper.Io;
using Lopper.Methods;
using Lopper.Runs;
using Lopper.Tensors;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;
using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Runs;

/// <summary>
/// A prune run killed during its fine-tune goes on from its last checkpoint (bit-exactly), and a checkpoint of another
/// pruning in the folder is never mixed in.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class PruneResumeTests
{
    private static PruneResult Prune(string trained, string method, string budget, string value, string outDir, bool resume = false, int killAfter = 0, List<string>? log = null)
    {
        var request = new PruneRequest
        {
            Source = RunFolder.Load(trained),
            Method = PruningMethods.Registry.Get(method).Create([new OptionValue(budget, value)]),
            FinetuneEpochs = 3,
            BatchSize = 20,
            LatencyBatch = 2,
            OutDir = outDir,
            Resume = resume,
        };
        var callbacks = new RunCallbacks
        {
            Log = s => log?.Add(s),
            // Thrown before the epoch's checkpoint is written, so the folder ends with killAfter - 1 epochs.
            Epoch = e => { if (e.Epoch + 1 == killAfter) throw new OperationCanceledException("simulated kill"); },
        };
        int threads = Parallelism.Threads;
        Parallelism.Threads = 1;
        try { return PrunePipeline.Run(request, callbacks); }
        finally { Parallelism.Threads = threads; }
    }

    private static float[] Weights(string dir) => ModelStore.Load(dir).Parameters.SelectMany(p => p.Value.Span.ToArray()).ToArray();

    [Theory]
    [InlineData("l1", "target-macs")]
    [InlineData("magnitude", "target-params")]
    public void AKilledFineTuneResumesBitExactly(string method, string budget)
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 60, 20);
        var trained = TrainTiny(dir, "lenet5", data);
        var full = Prune(trained, method, budget, "0.5", dir.File("full"));

        string killed = dir.File("killed");
        Assert.Throws<OperationCanceledException>(() => Prune(trained, method, budget, "0.5", killed, killAfter: 3));
        var log = new List<string>();
        var resumed = Prune(trained, method, budget, "0.5", killed, resume: true, log: log);

        Assert.Contains(log, l => l.StartsWith($"resuming the fine-tune in {killed} after epoch 2 of 3", StringComparison.Ordinal));
        Assert.Equal(3, resumed.Record.History.Count);
        Assert.Equal(full.Record.AccuracyFinetuned, resumed.Record.AccuracyFinetuned);
        Assert.Equal(Weights(dir.File("full")), Weights(killed));
    }

    [Theory]
    [InlineData("l1", "target-macs", "another pruned graph")]
    [InlineData("magnitude", "target-params", "has weights this pruning masks")]
    public void ACheckpointOfAnotherPruningIsNotUsed(string method, string budget, string why)
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 60, 20);
        var trained = TrainTiny(dir, "lenet5", data);
        var full = Prune(trained, method, budget, "0.3", dir.File("full"));

        string killed = dir.File("killed");
        Assert.Throws<OperationCanceledException>(() => Prune(trained, method, budget, "0.5", killed, killAfter: 2));
        var log = new List<string>();
        var resumed = Prune(trained, method, budget, "0.3", killed, resume: true, log: log);

        Assert.Contains(log, l => l.Contains("its checkpoint is from another pruning (", StringComparison.Ordinal) && l.Contains(why, StringComparison.Ordinal));
        Assert.DoesNotContain(log, l => l.StartsWith("resuming", StringComparison.Ordinal));
        Assert.Equal(3, resumed.Record.History.Count);
        Assert.Equal(Weights(dir.File("full")), Weights(killed));
    }

    [Fact]
    public void TheCommandLineResumesAndSaysWhenThereIsNothingToResume()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 40, 20);
        var trained = TrainTiny(dir, "lenet5", data);
        string[] args = ["prune", "l1", "--from", trained, "--out", dir.File("p"), "--target-macs", "0.5", "--finetune-epochs", "1", "--batch-size", "20", "--threads", "1", "--resume"];
        var (code, _, err) = Run(args);
        Assert.True(code == 0, err);
        Assert.Contains($"nothing to resume in {dir.File("p")} (no checkpoint): fine-tuning from the start", err);
        (code, _, err) = Run(args);
        Assert.True(code == 0, err);
        Assert.Contains($"resuming the fine-tune in {dir.File("p")} after epoch 1 of 1", err);
    }

    [Fact]
    public void ResumeWithoutAFolderIsRefusedNamingTheProperty()
    {
        using var dir = new TempDir();
        var trained = TrainTiny(dir, "lenet5", TinyData(dir, 20, 10));
        var request = new PruneRequest { Source = RunFolder.Load(trained), Method = PruningMethods.Registry.Get("random").Create([new OptionValue("target-macs", "0.5")]), Resume = true };
        var e = Assert.Throws<LopperInputException>(() => PrunePipeline.Run(request));
        Assert.Equal("Resume needs an OutDir to resume in", e.Message);
    }
}
