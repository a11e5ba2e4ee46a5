using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lopper.Methods;
using Lopper.Pruning.ComplexityAware;
using Lopper.Runs;
using Lopper.Training;
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
/// interrupted train cell (or baseline) continues from its last epoch; an interrupted prune cell redoes its
/// seeded pruning and continues its fine-tune from the last epoch. results.json is
/// rebuilt from the cell folders and rewritten atomically after every cell. With a <see cref="CellSelection"/>
/// only the cells it matches are run, re-timed or listed; results.json still lists every cell.
/// </summary>
public sealed class ExperimentRunner(ExperimentConfig config, string outDir, int threads, TextWriter log, CellSelection? selection = null)
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
        // One runner per experiment folder: a second would run the cell the first is running (and record it as
        // failed on that cell's lock) and both would rewrite results.json.
        using var experimentLock = RunLock.Acquire(outDir, "experiment folder");
        Directory.CreateDirectory(outDir);
        AtomicFile.WriteText(Path.Combine(outDir, "experiment.yaml"), File.ReadAllText(config.File));
        string resultsPath = Path.Combine(outDir, ResultsFile);
        var (baseline, baselineDir) = Baseline();
        _baselineDir = baselineDir;
        var cells = ExperimentPlan.Cells(config, outDir, baselineDir);
        var todo = Selected(cells);
        var progress = new GridProgress(todo.Count, log);
        int ran = 0, skipped = 0;
        var results = Assemble(baseline, cells);
        ResultsJson.Save(results, resultsPath);
        for (int i = 0; i < todo.Count; i++)
        {
            var cell = todo[i];
            if (Finished(cell.Dir, cell.Args) is not null)
            {
                log.WriteLine($"[{i + 1}/{todo.Count}] {cell.Id}: done before, skipped");
                skipped++;
                progress.Skipped();
                continue;
            }
            log.WriteLine($"[{i + 1}/{todo.Count}] {cell.Id}: lopper {string.Join(' ', cell.Args)}");
            var sw = Stopwatch.StartNew();
            var row = RunCell(cell, baseline);
            ran++;
            log.WriteLine(row.IsOk
                ? $"[{i + 1}/{todo.Count}] {cell.Id}: accuracy {ReportTable.Percent(row.AccuracyFinetuned)}%, MACs kept {ReportTable.Percent(row.MacsKept)}%, params kept {ReportTable.Percent(row.ParamsKept)}%"
                : $"[{i + 1}/{todo.Count}] {cell.Id}: FAILED: {row.Error}");
            progress.Finished(row.IsOk, sw.Elapsed.TotalSeconds);
            results = Assemble(baseline, cells);
            ResultsJson.Save(results, resultsPath);
        }
        if (todo.Count == 0 || ran == 0) progress.Draw();
        return new ExperimentOutcome(results, resultsPath, ran, skipped);
    }

    /// <summary>
    /// Times every finished cell again, its model and its source in alternation, pass for pass, at the config's
    /// latency batch (median of each side), and rewrites the cells' latencies and results.json. Latencies measured while a grid shares
    /// the machine with other work are noisy; this re-measures them on a quiet machine without retraining.
    /// </summary>
    public ExperimentOutcome RemeasureLatency()
    {
        using var experimentLock = RunLock.Acquire(outDir, "experiment folder");
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
        var todo = Selected(cells);
        foreach (var cell in todo)
        {
            var row = Finished(cell.Dir, cell.Args);
            if (row is null || row.Source is null || row.Model is null) continue;
            string sourceDir = Path.GetFullPath(Path.Combine(outDir, row.Source)), modelDir = Path.GetFullPath(Path.Combine(outDir, row.Model));
            // A cell restored from committed records (bench/grid_restore.py) has its record but not its model.
            if (!File.Exists(Path.Combine(modelDir, ModelStore.GraphFile)) || !File.Exists(Path.Combine(sourceDir, ModelStore.GraphFile)))
            {
                log.WriteLine($"{cell.Id}: no model in {Rel(modelDir)} (a record without its run folder): latency not re-measured");
                continue;
            }
            var source = Load(sourceDir);
            var model = Load(modelDir);
            // At least 30 pairs: a re-measure is what the grid's latency figures are read from.
            var (timedBefore, timedAfter) = TimeAgainst(source, model, ReferenceEquals(model, source), config.LatencyBatch, minPairs: 30, minSeconds: 6);
            double before = timedBefore.MedianMs, after = timedAfter.MedianMs;
            row = row with { LatencyBatch = config.LatencyBatch, LatencyThreads = threads, LatencyMsBefore = before, LatencyMsAfter = after };
            AtomicFile.WriteText(Path.Combine(cell.Dir, CellFile), ResultsJson.CellToJson(row).ToJsonString(Indented));
            log.WriteLine($"{cell.Id}: {before:F1} -> {after:F1} ms at batch {config.LatencyBatch} ({before / after:F2}x)");
            done++;
        }
        // The results keep the thread count their cells ran with; the new latencies carry their own (latency_threads).
        int runThreads = File.Exists(resultsPath) ? ResultsJson.Load(resultsPath).Threads : threads;
        var results = Assemble(baseline, cells, runThreads);
        ResultsJson.Save(results, resultsPath);
        return new ExperimentOutcome(results, resultsPath, done, todo.Count - done);
    }

    /// <summary>Lists the cells and their commands without running anything.</summary>
    public IReadOnlyList<PlannedCell> Plan()
    {
        string baselineDir = config.Baseline.From ?? ExperimentPlan.BaselineDir(outDir);
        return Selected(ExperimentPlan.Cells(config, outDir, baselineDir));
    }

    private IReadOnlyList<PlannedCell> Selected(IReadOnlyList<PlannedCell> cells) => selection?.Apply(cells, config.Name) ?? cells;

    private ExperimentResults Assemble(BaselineResult baseline, IReadOnlyList<PlannedCell> cells, int? runThreads = null)
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
            Threads = runThreads ?? threads,
            Baseline = baseline,
            Cells = rows,
            UpdatedUtc = DateTime.UtcNow.ToString("o"),
        };
    }

    private (BaselineResult Result, string Dir) Baseline(bool mustExist = false)
    {
        if (config.Baseline.From is string from)
        {
            if (!File.Exists(Path.Combine(from, ModelStore.GraphFile))) throw new LopperInputException($"{config.File}: field 'baseline.from': {from} has no {ModelStore.GraphFile} (not a lopper run folder)");
            var folder = RunFolder.Load(from);
            var (p, m) = CostCounter.Totals(folder.Model.Graph);
            return (new BaselineResult
            {
                Dir = Rel(from), Trained = false, Model = folder.Model.Graph.Name, Accuracy = folder.TestAccuracy,
                Params = p, Macs = m, Epochs = folder.EpochsCompleted,
            }, from);
        }
        string dir = ExperimentPlan.BaselineDir(outDir);
        var args = ExperimentPlan.BaselineArgs(config, outDir);
        var cell = new PlannedCell("baseline", new MethodSpec { Name = "baseline", Kind = "train", Method = "sgd", Flags = config.Baseline.Flags }, null, (int)config.Baseline.Seed, config.Baseline.Epochs, dir, args);
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
        // An interrupted cell with the same settings continues from its checkpoint instead of starting over (a prune
        // cell redoes its seeded pruning and continues the fine-tune when the checkpoint is that pruning's).
        bool resume = Lopper.Training.Checkpoint.Any(cell.Dir) && SameArgs(Path.Combine(cell.Dir, PendingFile), cell.Args);
        if (!resume && Directory.Exists(cell.Dir)) Directory.Delete(cell.Dir, recursive: true);
        Directory.CreateDirectory(cell.Dir);
        AtomicFile.WriteText(Path.Combine(cell.Dir, PendingFile), new JsonArray(cell.Args.Select(a => (JsonNode?)a).ToArray()).ToJsonString());
        if (resume) log.WriteLine($"{cell.Id}: resuming the interrupted run in {cell.Dir}");
        CellResult row;
        try
        {
            row = train ? Trained(cell, baseline, resume) : Pruned(cell, resume);
        }
        catch (Exception e) when (e is not OutOfMemoryException && Environment.GetEnvironmentVariable("LOPPER_DEBUG") is null)
        {
            // One cell's failure (an unknown method, a bad option, a NaN loss, even a bug in one method) is
            // recorded and the grid goes on: a night of other cells is worth more than stopping at the first.
            row = Failed(cell, e is LopperInputException ie ? OptionInfo.Respell(ie, n => "--" + n)
                : e is LopperRunException or IOException ? e.Message : $"internal error: {e.GetType().Name}: {e.Message}");
        }
        AtomicFile.WriteText(Path.Combine(cell.Dir, CellFile), ResultsJson.CellToJson(row).ToJsonString(Indented));
        return row;
    }

    // Status lines and epoch lines of a cell go to the grid's log, so stdout stays the experiment's own.
    private RunCallbacks Callbacks() => new()
    {
        Log = s => log.WriteLine(s),
        Epoch = e => log.WriteLine(ConsoleCallbacks.EpochLine(e)),
    };

    private CellResult Pruned(PlannedCell cell, bool resume)
    {
        var info = PruningMethods.Registry.Get(cell.Spec.Method);
        var options = CellOptions(cell);
        var pipelineOptions = OptionInfo.For(typeof(PruneRequest)).Select(o => o.Name).ToHashSet();
        var method = info.Create(options.Where(o => !pipelineOptions.Contains(o.Name)));
        var source = RunFolder.Load(_baselineDir, Lopper.Imaging.SkiaImageDecoder.Instance);
        var start = new PruneRequest
        {
            Source = source,
            Method = method,
            Data = Data(source.Data),
            FinetuneEpochs = cell.Epochs,
            Seed = (ulong)cell.Seed,
            LatencyBatch = config.LatencyBatch,
            OutDir = cell.Dir,
            Resume = resume,
            Command = "lopper " + string.Join(' ', cell.Args),
        };
        var request = OptionBinder.Bind(options.Where(o => pipelineOptions.Contains(o.Name)), $"experiment cell {cell.Id}", start);
        var r = PrunePipeline.Run(request, Callbacks()).Record;
        return Base(cell, CellResult.Ok) with
        {
            Source = Rel(_baselineDir),
            Model = Rel(cell.Dir),
            AccuracyBefore = r.AccuracyBefore,
            AccuracyPruned = r.AccuracyPruned,
            AccuracyFinetuned = r.AccuracyFinetuned,
            ParamsBefore = r.ParamsBefore,
            ParamsAfter = r.ParamsAfter,
            MacsBefore = r.MacsBefore,
            MacsAfter = r.MacsAfter,
            LatencyBatch = r.LatencyBatch,
            LatencyThreads = threads,
            LatencyMsBefore = r.LatencyMsBefore,
            LatencyMsAfter = r.LatencyMsAfter,
            Seconds = new Dictionary<string, double>(r.Seconds),
        };
    }

    // The experiment's data, or the source's when the config names none.
    private DataSpec? Data(DataSpec? source)
    {
        if (config.Dataset is null && config.Data is null) return source;
        var d = source ?? new DataSpec { Options = new Lopper.Data.DataOptions { Decoder = Lopper.Imaging.SkiaImageDecoder.Instance } };
        return d with { Dataset = config.Dataset ?? source?.Dataset ?? "fashion-mnist", Dir = config.Data ?? d.Dir };
    }

    // The entry's flags plus its budget, as option values.
    private static List<OptionValue> CellOptions(PlannedCell cell)
    {
        var values = cell.Spec.Flags.Select(f => new OptionValue(f.Flag, f.Value)).ToList();
        if (cell.Budget is not null) values.Add(new OptionValue(cell.Spec.BudgetFlag!, cell.Budget));
        return values;
    }

    /// <summary>
    /// A train cell's result is its final model compacted: filters and channels that ended entirely zero
    /// removed (gRDA leaves such), which gives the same outputs, so its accuracy is the run's final test
    /// accuracy. Parameters after count the nonzero values left, as prune cells count masked ones as gone.
    /// </summary>
    private CellResult Trained(PlannedCell cell, BaselineResult? baseline, bool resume)
    {
        var result = resume
            ? TrainPipeline.Resume(cell.Dir, null, Callbacks(), Lopper.Imaging.SkiaImageDecoder.Instance)
            : TrainPipeline.Run(TrainCell(cell), Callbacks());
        double accuracy = result.TestAccuracy ?? throw new LopperRunException($"{cell.Id}: training ran no epoch");
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
        var (latBefore, latAfter) = TimeAgainst(dense, compact, !changed, config.LatencyBatch);
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
            LatencyThreads = threads,
            LatencyMsBefore = latBefore.MedianMs,
            LatencyMsAfter = latAfter.MedianMs,
            Seconds = new Dictionary<string, double> { ["train"] = result.TrainSeconds, ["measure"] = measure, ["total"] = result.TrainSeconds + measure },
        };
    }

    /// <summary>
    /// The training run of a train cell (or the baseline): the config's model, data, epochs and seed; its flags are
    /// training options (TrainConfig), "augment", or "method: complexity-aware" with the gate options.
    /// </summary>
    private TrainRequest TrainCell(PlannedCell cell)
    {
        var values = CellOptions(cell);
        var gateOptions = OptionInfo.For(typeof(ComplexityAwareOptions)).Select(o => o.Name).ToHashSet();
        var configValues = values.Where(v => v.Name is not ("augment" or "method") && !gateOptions.Contains(v.Name)).ToList();
        // start: baseline trains the baseline's model (its per-model defaults), as `lopper train --from` does.
        var startFolder = cell.Spec.FromBaseline ? RunFolder.Load(_baselineDir, Lopper.Imaging.SkiaImageDecoder.Instance) : null;
        string modelName = startFolder?.Model.Graph.Name ?? config.Model!;
        var start = TrainConfig.DefaultsFor(modelName) with { Epochs = cell.Epochs, Seed = (ulong)cell.Seed };
        var train = OptionBinder.Bind(configValues, $"experiment cell {cell.Id}", start);
        if (values.Any(v => v.Name == "augment")) train = train with { CropPadding = 2, Flip = true };
        if (train.Optimizer == "grda")
        {
            // The method and its theory assume plain stochastic gradients.
            if (configValues.Any(v => v.Name is "momentum" or "weight-decay" or "nesterov"))
                throw new LopperInputException("the grda optimizer uses no momentum and no weight decay; drop momentum, nesterov and weight-decay");
            train = train with { Momentum = 0, WeightDecay = 0 };
        }
        train.Validate(TrainConfig.FlagName);
        ComplexityAwareOptions? gates = null;
        var method = values.FirstOrDefault(v => v.Name == "method").Value;
        if (method is not null && method != "complexity-aware") throw new LopperInputException($"--method must be complexity-aware, got '{method}'");
        if (method is not null) gates = OptionBinder.Bind<ComplexityAwareOptions>(values.Where(v => gateOptions.Contains(v.Name)), $"experiment cell {cell.Id}").Validate();
        else if (values.Any(v => gateOptions.Contains(v.Name))) throw new LopperInputException("the gate options need method: complexity-aware");
        return new TrainRequest
        {
            ModelName = startFolder is null ? config.Model : null,
            Start = startFolder?.Model,
            StartFolder = startFolder,
            Data = new DataSpec { Dataset = config.Dataset ?? "fashion-mnist", Dir = config.Data, Options = new Lopper.Data.DataOptions { Decoder = Lopper.Imaging.SkiaImageDecoder.Instance } },
            Config = train,
            Gates = gates,
            OutDir = cell.Dir,
            Command = "lopper " + string.Join(' ', cell.Args),
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

    // A cell's model against its source, pass for pass, so a slow spell of the machine slows both alike; timed alone,
    // with as many repeats and half the time, when they are the same model.
    private static (LatencyResult Before, LatencyResult After) TimeAgainst(Model source, Model model, bool same, int batch, int minPairs = 10, double minSeconds = 2.0)
    {
        if (same)
        {
            var alone = Latency.Measure(source, batch, minRepeats: minPairs, minSeconds: minSeconds / 2);
            return (alone, alone);
        }
        var pair = Latency.MeasurePair(source, model, batch, minPairs: minPairs, minSeconds: minSeconds);
        return (pair.First, pair.Second);
    }

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
}
