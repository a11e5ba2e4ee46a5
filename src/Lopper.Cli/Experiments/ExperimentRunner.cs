using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lopper.Cli.Commands;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Measurement;
using Lopper.Reporting;
using Lopper.Structure;

namespace Lopper.Cli.Experiments;

/// <summary>What a run of the grid did.</summary>
/// <param name="Results">The results as written to results.json.</param>
/// <param name="ResultsPath">Path of results.json.</param>
/// <param name="Ran">Cells run in this invocation.</param>
/// <param name="Skipped">Cells already finished with the same arguments (not rerun).</param>
public sealed record ExperimentOutcome(ExperimentResults Results, string ResultsPath, int Ran, int Skipped);

/// <summary>
/// Runs an experiment grid in-process through the same command code as `lopper train` and `lopper prune`.
/// Each cell is its own run folder; its cell.json (the results row) is written atomically once the cell is
/// over, so a rerun skips every cell that finished with the same arguments and redoes the rest. An
/// interrupted train cell (or baseline) continues from its last epoch with --resume. results.json is
/// rebuilt from the cell folders and rewritten atomically after every cell.
/// </summary>
public sealed class ExperimentRunner(ExperimentConfig config, string outDir, int threads, TextWriter log)
{
    /// <summary>Name of a cell's results row, written last.</summary>
    public const string CellFile = "cell.json";
    /// <summary>The arguments a cell was started with, written first (lets an interrupted train cell resume).</summary>
    public const string PendingFile = "pending.json";
    /// <summary>Name of the results file in the output folder.</summary>
    public const string ResultsFile = "results.json";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private string _baselineDir = "";

    /// <summary>Runs the baseline (when trained here) and every unfinished cell.</summary>
    public ExperimentOutcome Run()
    {
        Directory.CreateDirectory(outDir);
        AtomicFile.WriteText(Path.Combine(outDir, "experiment.yaml"), File.ReadAllText(config.File));
        string resultsPath = Path.Combine(outDir, ResultsFile);
        var (baseline, baselineDir) = Baseline();
        _baselineDir = baselineDir;
        var cells = ExperimentPlan.Cells(config, outDir, baselineDir);
        var progress = new GridProgress(cells.Count, log);
        int ran = 0, skipped = 0;
        var results = Assemble(baseline, cells);
        ResultsJson.Save(results, resultsPath);
        for (int i = 0; i < cells.Count; i++)
        {
            var cell = cells[i];
            if (Finished(cell.Dir, cell.Args) is not null)
            {
                log.WriteLine($"[{i + 1}/{cells.Count}] {cell.Id}: done before, skipped");
                skipped++;
                progress.Skipped();
                continue;
            }
            log.WriteLine($"[{i + 1}/{cells.Count}] {cell.Id}: lopper {string.Join(' ', cell.Args)}");
            var sw = Stopwatch.StartNew();
            var row = RunCell(cell, baseline);
            ran++;
            log.WriteLine(row.IsOk
                ? $"[{i + 1}/{cells.Count}] {cell.Id}: accuracy {ReportTable.Percent(row.AccuracyFinetuned)}%, MACs kept {ReportTable.Percent(row.MacsKept)}%, params kept {ReportTable.Percent(row.ParamsKept)}%"
                : $"[{i + 1}/{cells.Count}] {cell.Id}: FAILED: {row.Error}");
            progress.Finished(row.IsOk, sw.Elapsed.TotalSeconds);
            results = Assemble(baseline, cells);
            ResultsJson.Save(results, resultsPath);
        }
        if (cells.Count == 0 || ran == 0) progress.Draw();
        return new ExperimentOutcome(results, resultsPath, ran, skipped);
    }

    /// <summary>
    /// Times every finished cell again, its model and its source in three alternating rounds at the config's
    /// latency batch (smallest median of each), and rewrites the cells' latencies and results.json. Latencies measured while a grid shares
    /// the machine with other work are noisy; this re-measures them on a quiet machine without retraining.
    /// </summary>
    public ExperimentOutcome RemeasureLatency()
    {
        string resultsPath = Path.Combine(outDir, ResultsFile);
        var (baseline, baselineDir) = Baseline(mustExist: true);
        _baselineDir = baselineDir;
        var cells = ExperimentPlan.Cells(config, outDir, baselineDir);
        // One untimed round first: the first model timed in a process otherwise pays for JIT and warm-up
        // (the first cell's dense time came out 25% slow without it).
        // Prune cells share the baseline as their source: each folder is read once.
        var loaded = new Dictionary<string, Model>(StringComparer.Ordinal);
        Model Load(string dir) => loaded.TryGetValue(dir, out var m) ? m : loaded[dir] = ModelStore.Load(dir);
        Latency.Measure(Load(Path.GetFullPath(baselineDir)), config.LatencyBatch);
        int done = 0;
        foreach (var cell in cells)
        {
            var row = Finished(cell.Dir, cell.Args);
            if (row is null || row.Source is null || row.Model is null) continue;
            var source = Load(Path.GetFullPath(Path.Combine(outDir, row.Source)));
            var model = Load(Path.GetFullPath(Path.Combine(outDir, row.Model)));
            // Three alternating rounds, the smallest median of each side: a burst of other work on the machine
            // only ever makes a round slower, and alternating keeps a slow spell from landing on one side only.
            double before = double.MaxValue, after = double.MaxValue;
            for (int round = 0; round < 3; round++)
            {
                before = Math.Min(before, Latency.Measure(source, config.LatencyBatch).MedianMs);
                after = Math.Min(after, ReferenceEquals(model, source) ? before : Latency.Measure(model, config.LatencyBatch).MedianMs);
            }
            row = row with { LatencyBatch = config.LatencyBatch, LatencyMsBefore = before, LatencyMsAfter = after };
            AtomicFile.WriteText(Path.Combine(cell.Dir, CellFile), ResultsJson.CellToJson(row).ToJsonString(Indented));
            log.WriteLine($"{cell.Id}: {before:F1} -> {after:F1} ms at batch {config.LatencyBatch} ({before / after:F2}x)");
            done++;
        }
        var results = Assemble(baseline, cells);
        ResultsJson.Save(results, resultsPath);
        return new ExperimentOutcome(results, resultsPath, done, cells.Count - done);
    }

    /// <summary>Lists the cells and their commands without running anything.</summary>
    public IReadOnlyList<PlannedCell> Plan()
    {
        string baselineDir = config.Baseline.From ?? ExperimentPlan.BaselineDir(outDir);
        return ExperimentPlan.Cells(config, outDir, baselineDir);
    }

    private ExperimentResults Assemble(BaselineResult baseline, IReadOnlyList<PlannedCell> cells)
    {
        var rows = new List<CellResult>();
        foreach (var c in cells)
        {
            var path = Path.Combine(c.Dir, CellFile);
            if (File.Exists(path)) rows.Add(ResultsJson.ParseCell(File.ReadAllText(path), path));
        }
        return new ExperimentResults
        {
            Name = config.Name,
            Config = Path.GetFullPath(config.File),
            Dataset = config.Dataset ?? "fashion-mnist",
            Threads = threads,
            Baseline = baseline,
            Cells = rows,
            UpdatedUtc = DateTime.UtcNow.ToString("o"),
        };
    }

    private (BaselineResult Result, string Dir) Baseline(bool mustExist = false)
    {
        if (config.Baseline.From is string from)
        {
            var graphPath = Path.Combine(from, ModelStore.GraphFile);
            if (!File.Exists(graphPath)) throw new LopperInputException($"{config.File}: field 'baseline.from': {from} has no {ModelStore.GraphFile} (not a lopper run folder)");
            var (p, m) = CostCounter.Totals(ModelJson.Load(graphPath));
            var run = ReadJson(Path.Combine(from, "run.json"));
            return (new BaselineResult
            {
                Dir = Rel(from), Trained = false, Model = (string?)run?["model"], Accuracy = (double?)run?["test_accuracy"],
                Params = p, Macs = m, Epochs = (int?)run?["epochs_completed"],
            }, from);
        }
        string dir = ExperimentPlan.BaselineDir(outDir);
        var args = ExperimentPlan.BaselineArgs(config, outDir);
        var cell = new PlannedCell("baseline", new MethodSpec { Name = "baseline", Kind = "train", Method = "sgd" }, null, (int)config.Baseline.Seed, config.Baseline.Epochs, dir, args);
        var row = Finished(dir, args);
        if (row is null && mustExist) throw new LopperInputException($"{config.File}: the baseline in {dir} has not finished; run the experiment first");
        if (row is null)
        {
            log.WriteLine($"baseline: lopper {string.Join(' ', args)}");
            row = RunCell(cell, null);
            if (!row.IsOk) throw new LopperRunException($"baseline training failed: {row.Error}");
        }
        else log.WriteLine("baseline: done before, skipped");
        return (new BaselineResult
        {
            Dir = row.Dir, Trained = true, Model = config.Model, Accuracy = row.AccuracyFinetuned, Params = row.ParamsBefore,
            Macs = row.MacsBefore, Epochs = row.Epochs, Seconds = row.Seconds.GetValueOrDefault("total"),
        }, dir);
    }

    // A cell is finished when its cell.json says ok and it ran with the same arguments (a changed config reruns it).
    private static CellResult? Finished(string dir, IReadOnlyList<string> args)
    {
        var path = Path.Combine(dir, CellFile);
        if (!File.Exists(path)) return null;
        var row = ResultsJson.ParseCell(File.ReadAllText(path), path);
        return row.IsOk && row.Args.SequenceEqual(args) ? row : null;
    }

    private CellResult RunCell(PlannedCell cell, BaselineResult? baseline)
    {
        bool train = cell.Spec.Kind == "train";
        // An interrupted train cell with the same arguments continues from its checkpoint instead of starting over.
        bool resume = train && Lopper.Training.Checkpoint.Any(cell.Dir) && SameArgs(Path.Combine(cell.Dir, PendingFile), cell.Args);
        if (!resume && Directory.Exists(cell.Dir)) Directory.Delete(cell.Dir, recursive: true);
        Directory.CreateDirectory(cell.Dir);
        AtomicFile.WriteText(Path.Combine(cell.Dir, PendingFile), new JsonArray(cell.Args.Select(a => (JsonNode?)a).ToArray()).ToJsonString());
        string[] argv = resume
            ? ["train", "--resume", cell.Dir, "--threads", threads.ToString(System.Globalization.CultureInfo.InvariantCulture)]
            : [.. cell.Args, "--threads", threads.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        if (resume) log.WriteLine($"{cell.Id}: resuming the interrupted run in {cell.Dir}");
        CellResult row;
        try
        {
            int code = Invoke(argv);
            if (code != 0) throw new LopperRunException($"lopper {argv[0]} exited with code {code}");
            row = train ? MeasureTrained(cell, baseline) : ReadPruned(cell);
        }
        catch (Exception e) when (e is not OutOfMemoryException && Environment.GetEnvironmentVariable("LOPPER_DEBUG") is null)
        {
            // One cell's failure (an unknown method, a bad flag, a NaN loss, even a bug in one method) is
            // recorded and the grid goes on: a night of other cells is worth more than stopping at the first.
            row = Failed(cell, e is LopperInputException or LopperRunException or IOException ? e.Message : $"internal error: {e.GetType().Name}: {e.Message}");
        }
        AtomicFile.WriteText(Path.Combine(cell.Dir, CellFile), ResultsJson.CellToJson(row).ToJsonString(Indented));
        return row;
    }

    // The commands print their summary on stdout; inside a grid that goes to the log so stdout stays the experiment's own.
    private int Invoke(string[] argv)
    {
        var stdout = Console.Out;
        Console.SetOut(log);
        try
        {
            return argv[0] == "train" ? TrainCommand.Run(argv[1..]) : PruneCommand.Run(argv[1..]);
        }
        finally
        {
            Console.SetOut(stdout);
        }
    }

    private CellResult ReadPruned(PlannedCell cell)
    {
        var runPath = Path.Combine(cell.Dir, "run.json");
        var run = ReadJson(runPath) ?? throw new LopperRunException($"{runPath}: missing after the prune run");
        var seconds = new Dictionary<string, double>(StringComparer.Ordinal);
        if (run["seconds"] is JsonObject s) foreach (var (k, v) in s) seconds[k] = (double)v!;
        return Base(cell, CellResult.Ok) with
        {
            Source = Rel(_baselineDir),
            Model = Rel(cell.Dir),
            AccuracyBefore = Num(run, "accuracy_before", runPath),
            AccuracyPruned = Num(run, "accuracy_pruned", runPath),
            AccuracyFinetuned = Num(run, "accuracy_finetuned", runPath),
            ParamsBefore = (long)Num(run, "params_before", runPath),
            ParamsAfter = (long)Num(run, "params_after", runPath),
            MacsBefore = (long)Num(run, "macs_before", runPath),
            MacsAfter = (long)Num(run, "macs_after", runPath),
            LatencyBatch = (int)Num(run, "latency_batch", runPath),
            LatencyMsBefore = Num(run, "latency_ms_before", runPath),
            LatencyMsAfter = Num(run, "latency_ms_after", runPath),
            Seconds = seconds,
        };
    }

    /// <summary>
    /// A train cell's result is its final model compacted: filters and channels that ended entirely zero
    /// removed (gRDA leaves such), which gives the same outputs, so its accuracy is the run's final test
    /// accuracy. Parameters after count the nonzero values left, as prune cells count masked ones as gone.
    /// </summary>
    private CellResult MeasureTrained(PlannedCell cell, BaselineResult? baseline)
    {
        var runPath = Path.Combine(cell.Dir, "run.json");
        var run = ReadJson(runPath) ?? throw new LopperRunException($"{runPath}: missing after training");
        double accuracy = Num(run, "test_accuracy", runPath);
        double trainSeconds = 0;
        if (run["history"] is JsonArray h)
            foreach (var e in h) trainSeconds += ((double?)e?["train_seconds"] ?? 0) + ((double?)e?["eval_seconds"] ?? 0);
        var sw = Stopwatch.StartNew();
        var dense = ModelStore.Load(cell.Dir);
        string compactDir = Path.Combine(cell.Dir, "compacted");
        var compact = Directory.Exists(compactDir) ? ModelStore.Load(compactDir) : EffectiveCost.Compact(dense);
        var (p0, m0) = CostCounter.Totals(dense.Graph);
        var (p1, m1) = CostCounter.Totals(compact.Graph);
        bool changed = p1 != p0 || m1 != m0;
        if (changed && !Directory.Exists(compactDir)) ModelStore.Save(compact, compactDir);
        long nonzero = 0;
        foreach (var prm in compact.Parameters)
            if (prm.Trainable) foreach (var v in prm.Value.Span) if (v != 0) nonzero++;
        var latBefore = Latency.Measure(dense, config.LatencyBatch);
        var latAfter = changed ? Latency.Measure(compact, config.LatencyBatch) : latBefore;
        double measure = sw.Elapsed.TotalSeconds;
        return Base(cell, CellResult.Ok) with
        {
            Source = Rel(cell.Dir),
            Model = Rel(changed ? compactDir : cell.Dir),
            AccuracyBefore = baseline?.Accuracy,
            AccuracyPruned = accuracy,
            AccuracyFinetuned = accuracy,
            ParamsBefore = p0,
            ParamsAfter = nonzero,
            MacsBefore = m0,
            MacsAfter = m1,
            LatencyBatch = config.LatencyBatch,
            LatencyMsBefore = latBefore.MedianMs,
            LatencyMsAfter = latAfter.MedianMs,
            Seconds = new Dictionary<string, double> { ["train"] = trainSeconds, ["measure"] = measure, ["total"] = trainSeconds + measure },
        };
    }

    private CellResult Failed(PlannedCell cell, string error) => Base(cell, CellResult.Failed) with { Error = error };

    private CellResult Base(PlannedCell cell, string status) => new()
    {
        Id = cell.Id,
        Label = cell.Spec.Name,
        Method = cell.Spec.Method,
        Kind = cell.Spec.Kind,
        BudgetFlag = cell.Budget is null ? null : cell.Spec.BudgetFlag,
        Budget = cell.Budget,
        Seed = cell.Seed,
        Epochs = cell.Epochs,
        Status = status,
        Dir = Rel(cell.Dir),
        Args = cell.Args,
    };

    private string Rel(string path) => Path.GetRelativePath(Path.GetFullPath(outDir), Path.GetFullPath(path));

    private static bool SameArgs(string pendingPath, IReadOnlyList<string> args)
    {
        if (!File.Exists(pendingPath)) return false;
        try
        {
            return JsonNode.Parse(File.ReadAllText(pendingPath)) is JsonArray a && a.Select(n => (string?)n).SequenceEqual(args);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static JsonObject? ReadJson(string path)
    {
        if (!File.Exists(path)) return null;
        try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject; }
        catch (JsonException e) { throw new LopperInputException($"{path}: invalid JSON: {e.Message}"); }
    }

    private static double Num(JsonObject o, string key, string source)
        => o[key] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : throw new LopperRunException($"{source}: field '{key}' missing or not a number");
}
