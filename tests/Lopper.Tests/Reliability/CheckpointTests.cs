using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Optim;
using Lopper.Tensors;
using Lopper.Tests.Data;
using Lopper.Tests.Training;
using Lopper.Training;

namespace Lopper.Tests.Reliability;

/// <summary>Issue 22, defects 1, 3 and 4: checkpoints as one unit, fallback, cleanup, the run lock, and a resume that validates what it reads.</summary>
[Collection(Lopper.Tests.Cli.ConsoleCollection.Name)]
public class CheckpointTests
{
    private sealed class KillAt(int epoch) : ITrainingHook
    {
        public void BeforeStep(Model model, int e, int step)
        {
            if (e == epoch) throw new OperationCanceledException("simulated kill");
        }
    }

    private static T OneThread<T>(Func<T> body)
    {
        int before = Parallelism.Threads;
        Parallelism.Threads = 1;
        try { return body(); }
        finally { Parallelism.Threads = before; }
    }

    private static (float[] Full, string Killed) FullAndKilled(TempDir dir, int epochs, int killAt)
    {
        var train = TinyTask.Data(64, 1);
        var test = TinyTask.Data(30, 2);
        var config = TinyTask.Config(epochs);
        var full = OneThread(() => { var t = TinyTask.NewTrainer(config, dir.File("full"), train, test); t.Run(); return TinyTask.Weights(t.Model); });
        var killed = TinyTask.NewTrainer(config, dir.File("killed"), train, test);
        killed.AddHook(new KillAt(killAt));
        OneThread(() => { Assert.Throws<OperationCanceledException>(killed.Run); return 0; });
        return (full, dir.File("killed"));
    }

    private static float[] Resume(string run, int epochs, int expectEpoch)
    {
        var train = TinyTask.Data(64, 1);
        var test = TinyTask.Data(30, 2);
        return OneThread(() =>
        {
            var t = TinyTask.NewTrainer(TinyTask.Config(epochs), run, train, test);
            t.RestoreFrom(run);
            Assert.Equal(expectEpoch, t.CompletedEpochs);
            t.Run();
            return TinyTask.Weights(t.Model);
        });
    }

    [Fact]
    public void CheckpointsAreWholeFoldersAndThePreviousIsKept()
    {
        using var dir = new TempDir();
        var (_, killed) = FullAndKilled(dir, 4, 3);
        var kept = Directory.GetDirectories(Path.Combine(killed, Checkpoint.Folder)).Select(d => Path.GetFileName(d)!).Order().ToArray();
        Assert.Equal(new[] { "000002", "000003" }, kept);
        foreach (var f in new[] { "model.json", "weights.safetensors", "optimizer.safetensors", "train_state.json", "run.json" })
            Assert.True(File.Exists(Path.Combine(killed, Checkpoint.Folder, "000003", f)), f);
        // The top level stays readable by eval/prune/finetune.
        Assert.Equal(ModelJson.Serialize(ModelStore.Load(killed).Graph), File.ReadAllText(Path.Combine(killed, Checkpoint.Folder, "000003", "model.json")));
        Assert.True(File.Exists(Path.Combine(killed, "run.json")));
    }

    [Fact]
    public void AKillInsideASwitchLeavesAResumableFolderAndItsLeftoversAreCleaned()
    {
        using var dir = new TempDir();
        var (full, killed) = FullAndKilled(dir, 3, 2);
        // What a kill during the next checkpoint's write leaves: a half-written temporary folder and temp files.
        var tmp = Path.Combine(killed, Checkpoint.Folder, ".tmp-000003-99999");
        Directory.CreateDirectory(tmp);
        File.WriteAllText(Path.Combine(tmp, "train_state.json"), "{\"completed_");
        File.WriteAllText(Path.Combine(killed, ".run.json.99999.tmp"), "{");
        Assert.Equal(full, Resume(killed, 3, 2));
        Assert.False(Directory.Exists(tmp));
        Assert.Empty(Directory.GetFiles(killed, "*.tmp"));
    }

    [Fact]
    public void AKillBetweenTheTwoRenamesOfAReplacementPutsTheOldFolderBack()
    {
        using var dir = new TempDir();
        var (full, killed) = FullAndKilled(dir, 3, 2);
        var cps = Path.Combine(killed, Checkpoint.Folder);
        // Replacing checkpoint 2 renamed it aside; the kill came before the new one was renamed in.
        Directory.Move(Path.Combine(cps, "000002"), Path.Combine(cps, ".old-000002-99999"));
        Checkpoint.Recover(killed);
        Assert.True(Directory.Exists(Path.Combine(cps, "000002")));
        Assert.Equal(full, Resume(killed, 3, 2));
    }

    [Fact]
    public void ACorruptNewestCheckpointFallsBackToThePreviousOne()
    {
        using var dir = new TempDir();
        var (full, killed) = FullAndKilled(dir, 3, 2);
        var newest = Path.Combine(killed, Checkpoint.Folder, "000002", "weights.safetensors");
        var bytes = File.ReadAllBytes(newest);
        File.WriteAllBytes(newest, bytes[..^4]);
        var cp = Checkpoint.Latest(killed);
        Assert.Equal(1, cp.CompletedEpochs);
        Assert.Single(cp.Skipped);
        Assert.Contains("000002", cp.Skipped[0]);
        Assert.Equal(full, Resume(killed, 3, 1));
    }

    [Fact]
    public void NaNLossNamesOnlyACheckpointThatExists()
    {
        using var dir = new TempDir();
        var train = TinyTask.Data(48, 1);
        var t = TinyTask.NewTrainer(TinyTask.Config(1), dir.File("run"), train, train);
        t.Model.Find("fc.weight")!.Value.Data[0] = float.NaN;
        var e = Assert.Throws<LopperRunException>(t.Run);
        Assert.Contains("no checkpoint was written", e.Message);
        Assert.DoesNotContain("last good checkpoint", e.Message);
    }

    [Fact]
    public void ASecondWriterIsRefusedAndAStaleLockIsTakenOver()
    {
        using var dir = new TempDir();
        using (RunLock.Acquire(dir.Path))
        {
            var e = Assert.Throws<LopperInputException>(() => RunLock.Acquire(dir.Path));
            Assert.Contains($"pid {Environment.ProcessId}", e.Message);
        }
        // A lock left by a process that no longer exists.
        using var gone = System.Diagnostics.Process.Start("true")!;
        gone.WaitForExit();
        File.WriteAllText(Path.Combine(dir.Path, RunLock.FileName), gone.Id + "\n");
        using (RunLock.Acquire(dir.Path)) Assert.Equal(Environment.ProcessId.ToString(), File.ReadAllText(Path.Combine(dir.Path, RunLock.FileName)).Trim());
        Assert.False(File.Exists(Path.Combine(dir.Path, RunLock.FileName)));
    }

    private static string Checkpoint2(TempDir dir)
    {
        var (_, killed) = FullAndKilled(dir, 3, 2);
        Directory.Delete(Path.Combine(killed, Checkpoint.Folder, "000001"), recursive: true);
        return Path.Combine(killed, Checkpoint.Folder, "000002");
    }

    private static void EditOptimizer(string cp, Action<Dictionary<string, Tensor>> edit)
    {
        var path = Path.Combine(cp, Trainer.OptimizerFile);
        var (t, _) = SafeTensors.Load(path);
        edit(t);
        SafeTensors.Save(path, t.OrderBy(kv => kv.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void OptimizerStateIsCheckedByNameAndShape()
    {
        using var dir = new TempDir();
        var cp = Checkpoint2(dir);
        var run = Path.GetDirectoryName(Path.GetDirectoryName(cp))!;
        var backup = File.ReadAllBytes(Path.Combine(cp, Trainer.OptimizerFile));
        void Expect(string message, Action<Dictionary<string, Tensor>> edit)
        {
            File.WriteAllBytes(Path.Combine(cp, Trainer.OptimizerFile), backup);
            EditOptimizer(cp, edit);
            var e = Assert.Throws<LopperInputException>(() => Checkpoint.Latest(run));
            Assert.Contains(message, e.Message);
        }
        // Same element count, other shape: conv1.weight is [4,1,3,3].
        Expect("momentum/conv1.weight", t => t["momentum/conv1.weight"] = new Tensor([36, 1, 1, 1], t["momentum/conv1.weight"].Data));
        Expect("momentum/conv1.weight", t => t["momentum/conv1.weight"] = new Tensor([2, 1, 3, 3]));
        Expect("unexpected entry 'momentum/nosuch.weight'", t => t["momentum/nosuch.weight"] = new Tensor(2));
        Expect("unexpected entry 'm/fc.weight'", t => t["m/fc.weight"] = t["momentum/fc.weight"]);

        // A missing buffer is found when the trainer knows which parameters it updates.
        File.WriteAllBytes(Path.Combine(cp, Trainer.OptimizerFile), backup);
        EditOptimizer(cp, t => t.Remove("momentum/fc.bias"));
        var trainer = TinyTask.NewTrainer(TinyTask.Config(3), run, TinyTask.Data(64, 1), TinyTask.Data(30, 2));
        trainer.RestoreFrom(run);
        var err = Assert.Throws<LopperInputException>(trainer.Run);
        Assert.Contains("missing 'momentum/fc.bias'", err.Message);
    }

    [Theory]
    [InlineData("momentum", "5", "momentum")]
    [InlineData("label_smoothing", "7", "label_smoothing")]
    [InlineData("epochs", "-3", "epochs")]
    [InlineData("train_limit", "-1", "train_limit")]
    [InlineData("lr", "\"fast\"", "config")]
    [InlineData("milestones", "[3,1]", "milestones")]
    [InlineData("no_such_field", "1", "no_such_field")]
    public void SavedConfigValuesGoThroughTheFlagChecks(string field, string value, string message)
    {
        using var dir = new TempDir();
        var cp = Checkpoint2(dir);
        var statePath = Path.Combine(cp, Trainer.StateFile);
        var state = JsonNode.Parse(File.ReadAllText(statePath))!.AsObject();
        state["config"]![field] = JsonNode.Parse(value);
        File.WriteAllText(statePath, state.ToJsonString());
        var run = Path.GetDirectoryName(Path.GetDirectoryName(cp))!;
        var e = Assert.Throws<LopperInputException>(() => Checkpoint.Latest(run));
        Assert.Contains(message, e.Message);
        Assert.Contains(statePath, e.Message);
    }

    [Theory]
    [InlineData("completed_epochs", "-1")]
    [InlineData("completed_epochs", "9")]
    [InlineData("optimizer_steps", "\"x\"")]
    [InlineData("best_accuracy", "7")]
    [InlineData("history", "3")]
    public void TrainStateValuesAreChecked(string field, string value)
    {
        using var dir = new TempDir();
        var cp = Checkpoint2(dir);
        var statePath = Path.Combine(cp, Trainer.StateFile);
        var state = JsonNode.Parse(File.ReadAllText(statePath))!.AsObject();
        state[field] = JsonNode.Parse(value);
        File.WriteAllText(statePath, state.ToJsonString());
        var e = Assert.Throws<LopperInputException>(() => Checkpoint.Latest(Path.GetDirectoryName(Path.GetDirectoryName(cp))!));
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void AllOptimizersRestoreThroughTheShapeCheck()
    {
        var model = new Model(TinyTask.Graph());
        var bad = new Dictionary<string, Tensor> { ["x/conv1.weight"] = new Tensor(36) };
        foreach (var opt in new Optimizer[] { new Sgd(0.9f), new AdamW(), new Grda(0.01, 0.6) })
        {
            var e = Assert.Throws<LopperInputException>(() => opt.Restore(bad, 1, model));
            Assert.Contains("x/conv1.weight", e.Message);
            var key = opt.StateKeys(model.Find("conv1.weight")!).First();
            var wrong = new Dictionary<string, Tensor> { [key] = new Tensor(36) };
            Assert.Contains("shape", Assert.Throws<LopperInputException>(() => opt.Restore(wrong, 1, model)).Message);
        }
    }
}
