using System.Text.Json.Nodes;
using System.Xml.Linq;
using Lopper.Io;
using Lopper.Reporting;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;

using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Reporting;

/// <summary>`lopper experiment` end to end on a tiny dataset: the grid, failed cells, resume, and the report of it.</summary>
[Collection(ConsoleCollection.Name)]
public class ExperimentTests
{
    private static string Config(string data, string outDir) => $"""
        name: tiny
        out: {outDir}
        model: lenet5
        data: {data}
        threads: 1
        seeds: [0]
        finetune_epochs: [1]
        latency_batch: 2
        baseline:
          train:
            epochs: 1
            flags: {"{"}batch-size: 20, lr: 0.05{"}"}
        methods:
          - name: l1
            budgets: [0.5]
            flags:
              batch-size: 20
              scope: global
          - name: not-a-method
            budget_flag: target-macs
            budgets: [0.5]
          - name: grda
            kind: train
            epochs: 1
            budget_flag: grda-mu
            budgets: [0.6]
            flags: {"{"}optimizer: grda, lr: 0.05, schedule: constant, batch-size: 20{"}"}
        """;

    [Fact]
    public void ASecondRunnerOnTheSameExperimentFolderExitsTwo()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 40, 20);
        var outDir = dir.File("exp");
        var cfg = dir.File("tiny.yaml");
        File.WriteAllText(cfg, Config(data, outDir));
        using (RunLock.Acquire(outDir))
        {
            string[][] runs = [["experiment", "--config", cfg, "--threads", "1"], ["experiment", "--config", cfg, "--remeasure-latency", "--threads", "1"]];
            foreach (var args in runs)
            {
                var (code, _, err) = Run(args);
                Assert.Equal(2, code);
                Assert.Single(err.Trim().Split('\n'));
                Assert.Contains("experiment folder", err);
                Assert.Contains("another lopper process", err);
            }
        }
        // Nothing ran: no cell folder, no results.
        Assert.False(Directory.Exists(Path.Combine(outDir, "cells")));
        Assert.False(File.Exists(Path.Combine(outDir, "results.json")));
    }

    [Fact]
    public void GridRunsRecordsFailuresAndResumesWithoutRerunning()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 40, 20);
        var outDir = dir.File("exp");
        var cfg = dir.File("tiny.yaml");
        File.WriteAllText(cfg, Config(data, outDir));

        var (code, output, err) = Run("experiment", "--config", cfg, "--json");
        // One cell names a method that does not exist: it fails alone, the grid goes on, the exit code says so.
        Assert.True(code == 1, err);
        var summary = JsonNode.Parse(output)!;
        Assert.Equal(3, (int)summary["cells"]!);
        Assert.Equal(2, (int)summary["ok"]!);
        Assert.Equal(3, (int)summary["ran"]!);
        Assert.Contains("experiment [", err);

        var results = ResultsJson.Load(Path.Combine(outDir, "results.json"));
        Assert.Equal(["l1-target-macs-0.5-s0-ft1", "not-a-method-target-macs-0.5-s0-ft1", "grda-grda-mu-0.6-s0-e1"], results.Cells.Select(c => c.Id));
        var failed = results.Cells[1];
        Assert.Equal(CellResult.Failed, failed.Status);
        Assert.Contains("unknown pruning method 'not-a-method'", failed.Error);

        // The l1 row carries exactly its run's figures; the baseline is the experiment's own training run.
        var l1 = results.Cells[0];
        Assert.Equal(1, results.Threads);
        Assert.Equal(1, l1.LatencyThreads);   // timed in its run, with the run's threads
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, l1.Dir, "run.json")))!;
        Assert.Equal((double)run["accuracy_finetuned"]!, l1.AccuracyFinetuned);
        Assert.Equal((double)run["accuracy_pruned"]!, l1.AccuracyPruned);
        Assert.Equal((long)run["macs_after"]!, l1.MacsAfter);
        Assert.Equal((long)run["params_before"]!, l1.ParamsBefore);
        Assert.Equal((double)run["latency_ms_after"]!, l1.LatencyMsAfter);
        Assert.True(l1.MacsAfter < l1.MacsBefore);
        Assert.Equal("baseline", results.Baseline!.Dir);
        Assert.Equal((double)JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "baseline", "run.json")))!["test_accuracy"]!, results.Baseline.Accuracy);
        Assert.Equal(results.Baseline.Accuracy, l1.AccuracyBefore);
        Assert.Contains("--grda-mu", results.Cells[2].Args);
        Assert.True(results.Cells[2].IsOk);

        // A second invocation reruns nothing that finished (only the failed cell is tried again).
        var l1Run = Path.Combine(outDir, l1.Dir, "run.json");
        var grdaRun = Path.Combine(outDir, results.Cells[2].Dir, "run.json");
        var baselineRun = Path.Combine(outDir, "baseline", "run.json");
        var stamps = new[] { l1Run, grdaRun, baselineRun }.Select(File.GetLastWriteTimeUtc).ToList();
        (code, output, err) = Run("experiment", "--config", cfg, "--json");
        Assert.Equal(1, code);
        Assert.Equal(1, (int)JsonNode.Parse(output)!["ran"]!);
        Assert.Equal(2, (int)JsonNode.Parse(output)!["skipped"]!);
        Assert.Contains("baseline: done before, skipped", err);
        Assert.Contains("l1-target-macs-0.5-s0-ft1: done before, skipped", err);
        Assert.Equal(stamps, new[] { l1Run, grdaRun, baselineRun }.Select(File.GetLastWriteTimeUtc).ToList());

        // With --cells only the matching cells are tried: the failed cell is left alone, so nothing fails now, and
        // results.json still lists all three.
        (code, output, err) = Run("experiment", "--config", cfg, "--cells", "l1-*,grda-grda-mu-0.6-s0-e1", "--json");
        Assert.True(code == 0, err);
        Assert.Equal(2, (int)JsonNode.Parse(output)!["cells"]!);
        Assert.Equal(2, (int)JsonNode.Parse(output)!["skipped"]!);
        Assert.Equal(0, (int)JsonNode.Parse(output)!["ran"]!);
        Assert.DoesNotContain("not-a-method", err);
        Assert.Equal(3, ResultsJson.Load(Path.Combine(outDir, "results.json")).Cells.Count);

        // Cells interrupted after their checkpoint (no cell.json yet) resume instead of starting over: the train cell
        // from its epoch, the prune cell by redoing its seeded pruning and taking the fine-tune's checkpoint.
        File.Delete(Path.Combine(outDir, results.Cells[2].Dir, "cell.json"));
        File.Delete(Path.Combine(outDir, l1.Dir, "cell.json"));
        (code, _, err) = Run("experiment", "--config", cfg);
        Assert.Equal(1, code);
        Assert.Contains("resuming the interrupted run", err);
        Assert.Contains("resuming the fine-tune in", err);
        Assert.Contains("after epoch 1 of 1", err);
        Assert.DoesNotContain("l1-target-macs-0.5-s0-ft1: done before, skipped", err);
        var resumedRows = ResultsJson.Load(Path.Combine(outDir, "results.json"));
        Assert.True(resumedRows.Cells[2].IsOk);
        Assert.Equal(l1.AccuracyFinetuned, resumedRows.Cells[0].AccuracyFinetuned);
        Assert.Equal(l1.MacsAfter, resumedRows.Cells[0].MacsAfter);
        var l1Stamp = File.GetLastWriteTimeUtc(l1Run);

        // The report of the grid, with the l1 cell's layer widths against the baseline's.
        var reportDir = dir.File("report");
        (code, _, err) = Run("report", outDir, "--out", reportDir, "--widths-run", l1.Id);
        Assert.True(code == 0, err);
        var widthsSvg = Path.Combine(reportDir, $"widths-{l1.Id}.svg");
        XDocument.Parse(File.ReadAllText(widthsSvg));
        var widths = LayerWidths.Compare(Path.Combine(outDir, "baseline", "model.json"), Path.Combine(outDir, l1.Dir, "model.json"));
        Assert.Contains(widths, w => w.After < w.Before);
        Assert.Equal(widths[^1].Before, widths[^1].After); // the classifier keeps its classes
        Assert.Contains($"{widths[0].Layer} source: {widths[0].Before}", File.ReadAllText(widthsSvg));
        string md = File.ReadAllText(Path.Combine(reportDir, "report.md"));
        Assert.Contains("| not-a-method-target-macs-0.5-s0-ft1 | not-a-method | target-macs 0.5 | 0 | 1 | failed |", md);

        // Re-timing rewrites every finished cell's latencies (cell.json and results.json) and trains nothing; at
        // another thread count the cells record it and the results keep the runs' count.
        var cellJson = Path.Combine(outDir, l1.Dir, "cell.json");
        var cellNode = JsonNode.Parse(File.ReadAllText(cellJson))!;
        cellNode["latency_ms_after"] = 123456;
        File.WriteAllText(cellJson, cellNode.ToJsonString());
        Assert.Equal(123456, ResultsJson.ParseCell(File.ReadAllText(cellJson), cellJson).LatencyMsAfter);
        (code, output, err) = Run("experiment", "--config", cfg, "--remeasure-latency", "--threads", "2", "--json");
        Assert.True(code == 1, err);   // the failed cell is still failed
        Assert.Equal(2, (int)JsonNode.Parse(output)!["ran"]!);
        Assert.Contains($"{l1.Id}: ", err);
        var again = ResultsJson.Load(Path.Combine(outDir, "results.json"));
        Assert.True(again.Cells[0].LatencyMsAfter is > 0 and < 123456);
        Assert.Equal(1, again.Threads);
        Assert.Equal(2, again.Cells[0].LatencyThreads);
        Assert.Equal(again.Cells[0].LatencyMsAfter, ResultsJson.ParseCell(File.ReadAllText(cellJson), cellJson).LatencyMsAfter);
        Assert.Equal(l1.AccuracyFinetuned, again.Cells[0].AccuracyFinetuned);
        Assert.Equal(l1Stamp, File.GetLastWriteTimeUtc(l1Run));

        // --cells re-times only the cells it names: the grda cell keeps the latency it has.
        var grdaJson = Path.Combine(outDir, again.Cells[2].Dir, "cell.json");
        var grdaNode = JsonNode.Parse(File.ReadAllText(grdaJson))!;
        grdaNode["latency_ms_after"] = 654321;
        File.WriteAllText(grdaJson, grdaNode.ToJsonString());
        (code, output, err) = Run("experiment", "--config", cfg, "--remeasure-latency", "--cells", "l1-*", "--json");
        Assert.True(code == 0, err);
        Assert.Equal(1, (int)JsonNode.Parse(output)!["ran"]!);
        Assert.Equal(654321, ResultsJson.Load(Path.Combine(outDir, "results.json")).Cells[2].LatencyMsAfter);
        Assert.DoesNotContain("grda-grda-mu-0.6-s0-e1: ", err);
        grdaNode["latency_ms_after"] = again.Cells[2].LatencyMsAfter;
        File.WriteAllText(grdaJson, grdaNode.ToJsonString());

        // A cell whose record survived without its model (restored by bench/grid_restore.py) keeps its latencies and is named.
        var grda = again.Cells[2];
        File.Delete(Path.Combine(outDir, grda.Model!, ModelStore.GraphFile));
        (code, output, err) = Run("experiment", "--config", cfg, "--remeasure-latency", "--json");
        Assert.True(code == 1, err);
        Assert.Equal(1, (int)JsonNode.Parse(output)!["ran"]!);
        Assert.Contains($"{grda.Id}: no model in {grda.Model}", err);
        Assert.Equal(grda.LatencyMsAfter, ResultsJson.Load(Path.Combine(outDir, "results.json")).Cells[2].LatencyMsAfter);
        Assert.Equal(2, Run("experiment", "--config", cfg, "--remeasure-latency", "--dry-run").Code);
    }

    [Fact]
    public void DryRunListsTheCommands()
    {
        using var dir = new TempDir();
        var cfg = dir.File("tiny.yaml");
        File.WriteAllText(cfg, Config(dir.File("data"), dir.File("exp")));
        var (code, output, err) = Run("experiment", "--config", cfg, "--dry-run");
        Assert.True(code == 0, err);
        Assert.Contains("baseline: lopper train --model lenet5 --epochs 1 --seed 0", output);
        Assert.Contains("l1-target-macs-0.5-s0-ft1: lopper prune l1 --from", output);
        Assert.Contains("--target-macs 0.5 --batch-size 20 --scope global", output);
        Assert.Contains("grda-grda-mu-0.6-s0-e1: lopper train --model lenet5 --epochs 1 --seed 0", output);
        Assert.False(Directory.Exists(dir.File("exp")));

        // --cells lists the cells it matches; a pattern that matches none, or an empty one, is an input error.
        (code, output, err) = Run("experiment", "--config", cfg, "--dry-run", "--cells", "grda-*");
        Assert.True(code == 0, err);
        Assert.Contains("grda-grda-mu-0.6-s0-e1: lopper train", output);
        Assert.DoesNotContain("l1-target-macs-0.5-s0-ft1", output);
        foreach (var (cells, message) in new[] { ("l1-*,snacs-*", "--cells: 'snacs-*' matches no cell of experiment tiny"), ("l1-*,", "--cells: 'l1-*,' has an empty pattern") })
        {
            (code, output, err) = Run("experiment", "--config", cfg, "--cells", cells);
            Assert.Equal(2, code);
            Assert.Contains(message, err);
            Assert.Equal("", output);
            Assert.False(Directory.Exists(dir.File("exp")));
        }
    }

    [Fact]
    public void TrainCellsStartingFromTheBaselineTrainItsWeights()
    {
        // At a learning rate too small to move LeNet-5 (no batch-norm) in one epoch, a cell that starts from the
        // baseline ends at the baseline's accuracy; one that started from a fresh initialisation would not.
        using var dir = new TempDir();
        var data = TinyData(dir, 40, 20);
        var outDir = dir.File("exp");
        var cfg = dir.File("warm.yaml");
        File.WriteAllText(cfg, $"""
            name: warm
            out: {outDir}
            model: lenet5
            data: {data}
            threads: 1
            seeds: [0]
            latency_batch: 2
            baseline:
              train:
                epochs: 2
                flags: {"{"}batch-size: 20, lr: 0.05{"}"}
            methods:
              - name: still
                kind: train
                start: baseline
                epochs: 1
                flags: {"{"}lr: 1.0e-12, momentum: 0, weight-decay: 0, schedule: constant, batch-size: 20{"}"}
            """);
        var (code, _, err) = Run("experiment", "--config", cfg, "--json");
        Assert.True(code == 0, err);
        var results = ResultsJson.Load(Path.Combine(outDir, "results.json"));
        var cell = Assert.Single(results.Cells);
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "cells", cell.Id, "run.json")))!;
        Assert.Equal(Path.GetFullPath(Path.Combine(outDir, "baseline")), (string)run["transfer_from"]!);
        Assert.Equal(cell.AccuracyBefore!.Value, cell.AccuracyFinetuned!.Value, 6);
    }

    [Fact]
    public void TrainEntriesCanStartFromTheBaseline()
    {
        using var dir = new TempDir();
        var cfg = dir.File("warm.yaml");
        var baseline = dir.File("dense");
        File.WriteAllText(cfg, $"name: warm\nout: {dir.File("exp")}\nbaseline:\n  from: {baseline}\nmethods:\n"
            + "  - name: g\n    kind: train\n    start: baseline\n    epochs: 2\n    budget_flag: grda-c\n    budgets: [0.001]\n    flags: {optimizer: grda}\n");
        var (code, output, err) = Run("experiment", "--config", cfg, "--dry-run");
        Assert.True(code == 0, err);
        Assert.Contains($"g-grda-c-0.001-s0-e2: lopper train --from {baseline} --epochs 2 --seed 0", output);
        Assert.DoesNotContain("--model", output);
    }

    [Fact]
    public void CheckedInConfigCoversEveryMethodAtTwoBudgets()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Lopper.slnx"))) root = root.Parent;
        Assert.NotNull(root);
        var cfg = Path.Combine(root!.FullName, "bench", "experiments", "resnet20-fmnist.yaml");
        var (code, output, err) = Run("experiment", "--config", cfg, "--dry-run", "--out", Path.Combine(Path.GetTempPath(), "lopper-never-written"));
        Assert.True(code == 0, err);
        foreach (var m in new[] { "l1", "bn-slimming", "magnitude", "random", "spp", "srinit", "snacs", "complexity-aware" })
            Assert.Equal(2, output.Split('\n').Count(l => l.Contains($": lopper prune {m} ")));
        Assert.Equal(2, output.Split('\n').Count(l => l.StartsWith("grda-", StringComparison.Ordinal) && l.Contains("--optimizer grda")));
    }

    [Theory]
    [InlineData("methods:\n  - name: l1\n    budgets: [0.5]\n    bugdet_flag: target-macs\n", "methods[0].bugdet_flag")]
    [InlineData("seeds: [one]\nmethods:\n  - name: l1\n", "seeds")]
    [InlineData("methods:\n  - name: my-own-method\n    budgets: [0.5]\n", "methods[0].budget_flag")]
    [InlineData("methods:\n  - name: l1\n    kind: retrain\n", "methods[0].kind")]
    [InlineData("methods:\n  - name: l1\n    flags: {seed: 3}\n", "methods[0].flags.seed")]
    [InlineData("methods: [name: l1\n", "invalid YAML")]
    [InlineData("methods:\n  - name: l1\n    start: baseline\n", "methods[0].start")]
    [InlineData("methods:\n  - name: g\n    kind: train\n    epochs: 1\n    start: dense\n", "methods[0].start")]
    [InlineData("methods:\n  - name: g\n    kind: train\n    epochs: 1\n    flags: {from: x}\n", "methods[0].flags.from")]
    public void BadConfigExits2NamingTheField(string body, string field)
    {
        using var dir = new TempDir();
        var cfg = dir.File("bad.yaml");
        File.WriteAllText(cfg, "name: bad\nmodel: lenet5\nbaseline:\n  from: somewhere\n" + body);
        var (code, _, err) = Run("experiment", "--config", cfg);
        Assert.Equal(2, code);
        Assert.Contains("bad.yaml", err);
        Assert.Contains(field, err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
