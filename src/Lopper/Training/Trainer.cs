using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Optim;
using Lopper.Structure;
using Lopper.Tensors;

namespace Lopper.Training;

/// <summary>
/// The training loop: seeded batches, forward, loss, backward, hooks, optimizer step; evaluation and
/// a checkpoint after every epoch. Shuffling, augmentation and dropout are derived from (seed, epoch,
/// batch), so a run resumed from an epoch checkpoint continues bit-identically.
/// </summary>
public sealed class Trainer
{
    private Model _model;
    private bool _modelReplaced;
    private readonly DataLoader _train;
    private readonly DataLoader? _test;
    private readonly Optimizer _optimizer;
    private readonly LrSchedule _schedule;
    private readonly List<ITrainingHook> _hooks = new();

    /// <summary>The run's settings.</summary>
    public TrainConfig Config { get; }

    /// <summary>Folder that receives checkpoints, or null for none.</summary>
    public string? OutDir { get; }

    /// <summary>Per-epoch records (loss, accuracy, seconds, ...), including epochs before a resume.</summary>
    public JsonArray History { get; private set; } = new();

    /// <summary>Best test accuracy seen so far.</summary>
    public double BestAccuracy { get; private set; } = -1;

    /// <summary>Epochs already completed (the next epoch to run).</summary>
    public int CompletedEpochs { get; private set; }

    /// <summary>Receives progress during epochs.</summary>
    public IProgress<TrainProgress>? Progress { get; set; }

    /// <summary>
    /// Epochs of the whole phase the progress reports describe, when this trainer runs only part of it (a method
    /// that trains one epoch per trainer so it can stop early); null: <see cref="TrainConfig.Epochs"/>.
    /// </summary>
    public int? ProgressEpochs { get; set; }

    /// <summary>Extra fields written into run.json (command line, environment, ...).</summary>
    public JsonObject RunRecord { get; set; } = new();

    /// <summary>Creates a trainer; the model is trained in place.</summary>
    public Trainer(Model model, TrainConfig config, DataLoader train, DataLoader? test, string? outDir)
    {
        _model = model;
        Config = config;
        _train = train;
        _test = test;
        OutDir = outDir;
        _optimizer = config.CreateOptimizer(model, (long)config.Epochs * train.BatchesPerEpoch);
        _schedule = config.CreateSchedule();
    }

    /// <summary>Adds a hook (masks, gates, ...).</summary>
    public void AddHook(ITrainingHook hook) => _hooks.Add(hook);

    /// <summary>The model being trained (a hook may swap in another with <see cref="ReplaceModel"/>).</summary>
    public Model Model => _model;

    /// <summary>
    /// Parameters that are trainable (they get gradients) but that a hook, not the optimizer, updates
    /// (e.g. gate probabilities moved by projected SGD). Null: the optimizer updates every trainable parameter.
    /// </summary>
    public Func<Parameter, bool>? ExcludeFromOptimizer { get; set; }

    /// <summary>
    /// Continues training with <paramref name="model"/> instead of the current model, e.g. a compacted copy a
    /// hook made mid-run (from any hook call, or before <see cref="Run"/>). Optimizer state (momentum,
    /// moments, accumulators; keys "kind/parameter") is carried over through <paramref name="slicing"/>:
    /// sliced for surviving parameters, dropped for removed ones; optimizer-wide entries stay. The next
    /// step runs the new model; checkpoints save it.
    /// </summary>
    public void ReplaceModel(Model model, ParameterSlicing slicing)
    {
        if (!model.Graph.InputShape.AsSpan().SequenceEqual(_model.Graph.InputShape))
            throw new ArgumentException($"replacement model takes input {Tensor.Format(model.Graph.InputShape)}, not {Tensor.Format(_model.Graph.InputShape)}", nameof(model));
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, t) in _optimizer.State)
        {
            int slash = key.IndexOf('/');
            string name = slash < 0 ? key : key[(slash + 1)..];
            if (slash < 0 || _model.Find(name) is null) { state[key] = t; continue; }
            if (slicing.TryApply(name, t) is not { } sliced || model.Find(name) is not { } p) continue;
            if (!sliced.Shape.AsSpan().SequenceEqual(p.Spec.Shape))
                throw new InvalidOperationException($"ReplaceModel: optimizer state '{key}' sliced to {Tensor.Format(sliced.Shape)}, but {name} is {Tensor.Format(p.Spec.Shape)}");
            state[key] = sliced;
        }
        _optimizer.LoadState(state, _optimizer.Steps);
        _model = model;
        _modelReplaced = true;
    }

    /// <summary>The optimizer (its state is what <see cref="ReplaceModel"/> re-slices).</summary>
    public Optimizer Optimizer => _optimizer;

    private List<Parameter> OptimizedParameters() => _model.Parameters.Where(p => p.Trainable && ExcludeFromOptimizer?.Invoke(p) != true).ToList();

    /// <summary>
    /// Restores weights, optimizer state and history from the newest usable checkpoint of the run folder
    /// <paramref name="dir"/> (see <see cref="Checkpoint.Latest"/>), validating everything it reads.
    /// </summary>
    public void RestoreFrom(string dir) => Restore(Checkpoint.Latest(dir));

    /// <summary>Continues from <paramref name="checkpoint"/>: its weights must fit this trainer's model, its optimizer state this optimizer.</summary>
    public void Restore(Checkpoint checkpoint)
    {
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var p in checkpoint.Model.Parameters) weights[p.Name] = p.Value;
        var weightsPath = Path.Combine(checkpoint.Dir, ModelStore.WeightsFile);
        ModelStore.LoadWeights(_model, weights, weightsPath);
        try
        {
            _optimizer.Restore(checkpoint.OptimizerState, checkpoint.OptimizerSteps, _model);
        }
        catch (LopperInputException e)
        {
            throw new LopperInputException($"{Path.Combine(checkpoint.Dir, OptimizerFile)}: {e.Message}");
        }
        CompletedEpochs = checkpoint.CompletedEpochs;
        BestAccuracy = checkpoint.BestAccuracy;
        History = (JsonArray)checkpoint.History.DeepClone();
        _restoredFrom = checkpoint.Dir;
    }

    private string? _restoredFrom;

    /// <summary>File with the loop's own state (epoch, best accuracy, history).</summary>
    public const string StateFile = "train_state.json";
    /// <summary>File with the optimizer's buffers.</summary>
    public const string OptimizerFile = "optimizer.safetensors";

    /// <summary>Runs the remaining epochs. Throws <see cref="LopperRunException"/> on a non-finite loss.</summary>
    public void Run()
    {
        if (OutDir is not null) Checkpoint.Recover(OutDir);
        var executor = new Executor(_model);
        var trainable = OptimizedParameters();
        if (_restoredFrom is not null)
        {
            try
            {
                _optimizer.CheckComplete(trainable);
            }
            catch (LopperInputException e)
            {
                throw new LopperInputException($"{Path.Combine(_restoredFrom, OptimizerFile)}: {e.Message}");
            }
            _restoredFrom = null;
        }
        _modelReplaced = false;
        // A hook may have swapped the model (ReplaceModel); pick the new one up before it is used again.
        void Refresh()
        {
            if (!_modelReplaced) return;
            executor = new Executor(_model);
            trainable = OptimizedParameters();
            _modelReplaced = false;
        }
        int batches = _train.BatchesPerEpoch;
        var total = Stopwatch.StartNew();
        int epochsThisRun = 0;
        for (int epoch = CompletedEpochs; epoch < Config.Epochs; epoch++)
        {
            var sw = Stopwatch.StartNew();
            int gcBefore = GC.CollectionCount(0);
            double lossSum = 0;
            long correct = 0, seen = 0;
            for (int b = 0; b < batches; b++)
            {
                int step = epoch * batches + b;
                foreach (var h in _hooks) h.BeforeStep(_model, epoch, step);
                Refresh();
                using var batch = _train.GetBatch(epoch, b);
                var rng = Rng.Derive(Config.Seed, (ulong)epoch + 1, (ulong)b + 1);
                var logits = executor.Forward(batch.Images, training: true, forBackward: true, rng);
                var grad = Tensor.Pooled(logits.Shape);
                double loss = SoftmaxCrossEntropy.Compute(logits, batch.Labels.AsSpan(0, batch.Count), Config.LabelSmoothing, grad, out int c);
                if (!double.IsFinite(loss))
                {
                    grad.Release();
                    executor.EndStep();
                    throw new LopperRunException($"training loss became {loss} at epoch {epoch + 1}, batch {b + 1} (lr {_schedule.At(epoch + (double)b / batches):g4}); lower --lr" +
                        (OutDir is null ? "" : CompletedEpochs > 0 && Directory.Exists(Checkpoint.PathOf(OutDir, CompletedEpochs))
                            ? $"; last good checkpoint: {Checkpoint.PathOf(OutDir, CompletedEpochs)} (resuming {OutDir} continues from it)"
                            : "; no checkpoint was written (no epoch finished)"));
                }
                executor.Backward(grad);
                executor.EndStep();
                foreach (var h in _hooks) h.AfterBackward(_model, epoch, step);
                Refresh();
                _optimizer.Step(trainable, _schedule.At(epoch + (double)b / batches));
                foreach (var h in _hooks) h.AfterStep(_model, epoch, step);
                Refresh();
                lossSum += loss * batch.Count;
                correct += c;
                seen += batch.Count;
                if (Progress is not null)
                {
                    double ips = seen / Math.Max(1e-9, sw.Elapsed.TotalSeconds);
                    double perEpoch = sw.Elapsed.TotalSeconds / (b + 1) * batches;
                    int phaseEpochs = Math.Max(ProgressEpochs ?? Config.Epochs, epoch + 1);
                    double eta = perEpoch * (phaseEpochs - epoch) - sw.Elapsed.TotalSeconds;
                    Progress.Report(new TrainProgress(epoch, phaseEpochs, b + 1, batches, lossSum / seen, (double)correct / seen, ips, eta));
                }
            }
            double trainSeconds = sw.Elapsed.TotalSeconds;
            var record = new JsonObject
            {
                ["epoch"] = epoch + 1,
                ["lr_end"] = _schedule.At(epoch + 1.0),
                ["train_loss"] = lossSum / Math.Max(1, seen),
                ["train_accuracy"] = (double)correct / Math.Max(1, seen),
                ["train_images"] = seen,
                ["train_seconds"] = trainSeconds,
                ["images_per_second"] = seen / Math.Max(1e-9, trainSeconds),
                ["gc_gen0_collections"] = GC.CollectionCount(0) - gcBefore,
            };
            if (_test is not null)
            {
                var evalSw = Stopwatch.StartNew();
                var (testLoss, testAcc) = Evaluator.Evaluate(_model, _test);
                record["test_loss"] = testLoss;
                record["test_accuracy"] = testAcc;
                record["eval_seconds"] = evalSw.Elapsed.TotalSeconds;
                if (testAcc > BestAccuracy)
                {
                    BestAccuracy = testAcc;
                    if (OutDir is not null)
                        AtomicDirectory.Write(Path.Combine(OutDir, "best"), d => ModelStore.Save(_model, d, new Dictionary<string, string> { ["epoch"] = (epoch + 1).ToString() }));
                }
            }
            foreach (var h in _hooks) h.EndEpoch(_model, epoch, record);
            Refresh();
            History.Add(record);
            CompletedEpochs = epoch + 1;
            epochsThisRun++;
            if (OutDir is not null) SaveCheckpoint(total.Elapsed.TotalSeconds);
        }
    }

    /// <summary>
    /// Writes the checkpoint folder as one unit (see <see cref="Checkpoint.Write"/>), then publishes the model,
    /// weights and run record at the top of the run folder (each file atomically) for eval, prune and finetune.
    /// A kill between those files is repaired by the next resume, which republishes them from the checkpoint.
    /// </summary>
    private void SaveCheckpoint(double seconds)
    {
        var dir = OutDir!;
        var meta = new Dictionary<string, string> { ["epoch"] = CompletedEpochs.ToString() };
        var state = new JsonObject
        {
            ["completed_epochs"] = CompletedEpochs,
            ["best_accuracy"] = BestAccuracy,
            ["optimizer_steps"] = _optimizer.Steps,
            ["config"] = Config.ToJson(),
            ["history"] = History.DeepClone(),
        };
        var run = (JsonObject)RunRecord.DeepClone();
        run["config"] = Config.ToJson();
        run["epochs_completed"] = CompletedEpochs;
        run["best_test_accuracy"] = BestAccuracy;
        if (History.Count > 0 && History[^1]?["test_accuracy"] is { } acc) run["test_accuracy"] = acc.DeepClone();
        run["params"] = _model.ParameterCount();
        run["macs"] = _model.Graph.Macs();
        run["history"] = History.DeepClone();
        string stateText = JsonText.Write(state), runText = JsonText.Write(run);
        Checkpoint.Write(dir, CompletedEpochs, cp =>
        {
            ModelStore.Save(_model, cp, meta);
            SafeTensors.Save(Path.Combine(cp, OptimizerFile), _optimizer.State.OrderBy(kv => kv.Key, StringComparer.Ordinal));
            AtomicFile.WriteText(Path.Combine(cp, StateFile), stateText);
            AtomicFile.WriteText(Path.Combine(cp, "run.json"), runText);
        });
        Publish(dir, _model, meta, runText);
    }

    /// <summary>Writes model.json, weights.safetensors and run.json at the top of a run folder (each atomically).</summary>
    public static void Publish(string dir, Model model, IReadOnlyDictionary<string, string> meta, string runText)
    {
        SafeTensors.Save(Path.Combine(dir, ModelStore.WeightsFile), model.Parameters.Select(p => KeyValuePair.Create(p.Name, p.Value)), meta);
        AtomicFile.WriteText(Path.Combine(dir, ModelStore.GraphFile), ModelJson.Serialize(model.Graph));
        AtomicFile.WriteText(Path.Combine(dir, "run.json"), runText);
        // Files of the older layout (checkpoint state at the top) would only mislead now.
        foreach (var f in new[] { StateFile, OptimizerFile })
            if (File.Exists(Path.Combine(dir, f))) File.Delete(Path.Combine(dir, f));
    }
}
