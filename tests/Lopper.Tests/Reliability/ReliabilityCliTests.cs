using System.Text;
using System.Text.Json.Nodes;
using Lopper.Io;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;
using Lopper.Training;
using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Reliability;

/// <summary>Issue 22 through the command line: exit 2 with one line for input faults, JSON on stdout with --json, the run folder protected.</summary>
[Collection(ConsoleCollection.Name)]
public class ReliabilityCliTests
{
    private static void OneLineExit2((int Code, string Out, string Err) r, string message)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}: {r.Err}");
        Assert.Contains(message, r.Err);
        Assert.DoesNotContain("internal error", r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    [Fact]
    public void PruneAndFinetuneRefuseAnOutputThatOverlapsTheSource()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 40, 20);
        var run = TrainTiny(dir, "lenet5", data);
        var before = File.ReadAllBytes(Path.Combine(run, ModelStore.WeightsFile));
        OneLineExit2(Run("prune", "l1", "--from", run, "--out", run, "--target-macs", "0.5", "--threads", "1"), "is the --from folder");
        OneLineExit2(Run("prune", "l1", "--from", run, "--out", Path.Combine(run, "pruned"), "--target-macs", "0.5", "--threads", "1"), "inside");
        OneLineExit2(Run("finetune", "--from", run, "--out", dir.Path, "--threads", "1"), "contains");
        OneLineExit2(Run("finetune", "--from", run, "--out", run + "/", "--threads", "1"), "is the --from folder");
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(run, ModelStore.WeightsFile)));
    }

    [Fact]
    public void ASecondTrainIntoTheSameFolderExitsTwo()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 40, 20);
        var run = dir.File("run");
        using (RunLock.Acquire(run))
            OneLineExit2(Run("train", "--model", "lenet5", "--epochs", "1", "--batch-size", "20", "--data", data, "--out", run, "--threads", "1"), "another lopper process");
        // Released: the same command now runs, and leaves no lock behind.
        TrainTiny(dir, "lenet5", data);
        Assert.False(File.Exists(Path.Combine(run, RunLock.FileName)));
        Assert.True(Directory.Exists(Checkpoint.PathOf(run, 1)));
    }

    [Fact]
    public void ResumeOfABrokenStateIsExitTwoNamingTheField()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 40, 20);
        var run = TrainTiny(dir, "lenet5", data);
        var state = Path.Combine(Checkpoint.PathOf(run, 1), Trainer.StateFile);
        var original = File.ReadAllText(state);
        var o = JsonNode.Parse(original)!.AsObject();
        o["config"]!["momentum"] = 5;
        File.WriteAllText(state, o.ToJsonString());
        OneLineExit2(Run("train", "--resume", run, "--epochs", "2", "--threads", "1"), "momentum");
        File.WriteAllText(state, "{\"completed_epochs\": 1, ");
        OneLineExit2(Run("train", "--resume", run, "--epochs", "2", "--threads", "1"), "invalid JSON");
        File.WriteAllText(state, original);
        File.Delete(Path.Combine(Checkpoint.PathOf(run, 1), "run.json"));
        OneLineExit2(Run("train", "--resume", run, "--epochs", "2", "--threads", "1"), "run.json");
    }

    [Theory]
    [InlineData("must fit a 32-bit float", "train", "--model", "lenet5", "--lr", "1e39")]
    [InlineData("--milestones must be positive", "train", "--model", "lenet5", "--schedule", "step", "--milestones", "-1,-2")]
    [InlineData("--milestones must be strictly ascending", "train", "--model", "lenet5", "--schedule", "step", "--milestones", "3,1")]
    [InlineData("--threads must be at most", "eval", "--from", "x", "--threads", "10000")]
    [InlineData("1 GiB", "bench", "gemm", "--size", "46341")]
    [InlineData("--sparsity values must be in [0, 1)", "bench", "sparse-conv", "--sparsity", "1.5")]
    [InlineData("--sparsity must be comma-separated numbers", "bench", "sparse-conv", "--sparsity", "x")]
    [InlineData("--pattern must be slices or columns", "bench", "sparse-conv", "--pattern", "rows")]
    [InlineData("--batch needs sizes in", "latency", "--from", "x", "--batch", "1000000")]
    [InlineData("--layers times Lopper's own layers", "latency", "--from", "x", "--layers", "--runtime", "ort")]
    public void OutOfRangeFlagsAreExitTwo(string message, params string[] args)
    {
        if (args[0] == "train") args = [.. args, "--data", "/nonexistent/lopper-data"];
        OneLineExit2(Run(args), message);
    }

    [Fact]
    public void JsonCallersGetTheErrorAsJsonOnStdout()
    {
        var (code, output, err) = Run("train", "--model", "lenet5", "--lr", "1e39", "--data", "/nonexistent", "--json");
        Assert.Equal(2, code);
        var o = JsonNode.Parse(output)!.AsObject();
        Assert.Equal(2, (int)o["exit_code"]!);
        Assert.Contains("--lr", (string)o["error"]!);
        Assert.Contains("--lr", err);
    }

    [Fact]
    public void NaNWeightsGiveNullInTheJsonResultWithAWarning()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 40, 20);
        var run = TrainTiny(dir, "lenet5", data);
        var model = ModelStore.Load(run);
        foreach (var p in model.Parameters) p.Value.Span.Fill(float.NaN);
        ModelStore.Save(model, run);
        var (code, output, err) = Run("eval", "--from", run, "--json", "--threads", "1");
        Assert.True(code == 0, err);
        var o = JsonNode.Parse(output)!.AsObject();
        Assert.True(o.ContainsKey("test_loss") || o.ContainsKey("loss"));
        Assert.Contains("written as null", err);
    }

    [Fact]
    public void ANaNLossStopWithJsonPrintsAJsonObjectAndNoPhantomCheckpoint()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 40, 20);
        var (code, output, _) = Run("train", "--model", "lenet5", "--epochs", "1", "--batch-size", "20", "--lr", "3e38", "--data", data, "--out", dir.File("run"), "--json", "--threads", "1");
        Assert.Equal(1, code);
        var o = JsonNode.Parse(output)!.AsObject();
        Assert.Contains("no checkpoint was written", (string)o["error"]!);
    }

    private static string Yaml(TempDir dir, string text)
    {
        var path = dir.File("exp.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void ADeeplyNestedYamlIsExitTwoNotAStackOverflow()
    {
        using var dir = new TempDir();
        var sb = new StringBuilder("name: x\nmethods: ");
        for (int i = 0; i < 50_000; i++) sb.Append('[');
        for (int i = 0; i < 50_000; i++) sb.Append(']');
        OneLineExit2(Run("experiment", "--config", Yaml(dir, sb.ToString()), "--dry-run"), "nested deeper than");
        OneLineExit2(Run("experiment", "--config", Yaml(dir, "name: x\nmethods: [a, b\n"), "--dry-run"), "invalid YAML");
        OneLineExit2(Run("experiment", "--config", Yaml(dir, "name: x\na: &a [1]\nb: *a\n"), "--dry-run"), "aliases");
    }

    [Theory]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData(".hidden")]
    public void AnExperimentNameCannotEscapeItsFolder(string name)
    {
        using var dir = new TempDir();
        var cfg = Yaml(dir, $"name: \"{name}\"\nmodel: lenet5\nbaseline:\n  train:\n    epochs: 1\nmethods:\n  - name: l1\n    budgets: [0.5]\n");
        OneLineExit2(Run("experiment", "--config", cfg, "--dry-run"), "must not be empty or start with '.'");
    }
}
