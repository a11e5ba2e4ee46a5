using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Io;
using Lopper.Measurement;
using Lopper.Pruning;
using Lopper.Structure;
using Lopper.Training;

namespace Lopper.Runs;

/// <summary>
/// The prune pipeline behind `lopper prune` and the experiment runner: measure the trained model, prune it,
/// re-estimate batch-norm statistics (on by default), measure right after pruning, fine-tune, measure again.
/// </summary>
public static class PrunePipeline
{
    /// <summary>Runs <paramref name="request"/>; with <see cref="PruneRequest.OutDir"/> the result is also saved there (under its lock).</summary>
    public static PruneResult Run(PruneRequest request, RunCallbacks? callbacks = null)
    {
        var r = request.Validate();
        var cb = callbacks ?? RunCallbacks.None;
        var source = r.Source;
        var config = source.TrainConfig with
        {
            Epochs = Math.Max(1, r.FinetuneEpochs),
            Lr = r.Lr,
            BatchSize = r.BatchSize,
            Seed = r.Seed ?? source.TrainConfig.Seed,
            WarmupEpochs = 0,
            Schedule = Optim.ScheduleKind.Cosine,
            Optimizer = "sgd",
            TrainLimit = r.TrainLimit ?? source.TrainConfig.TrainLimit,
        };
        config.Validate(name => $"prune request field '{name}'");
        var data = r.Data ?? source.Data;
        if (data is null)
        {
            const string give = "give a dataset";
            if (r.FinetuneEpochs > 0) throw LopperInputException.ForOptions<PruneRequest>($"fine-tuning needs data and {source.Dir} names no dataset: {give}, or FinetuneEpochs 0", nameof(PruneRequest.FinetuneEpochs));
        }
        using var outLock = r.OutDir is null ? null : RunLock.Acquire(r.OutDir);
        DataLoader? train = null, test = null;
        Dataset? trainSet = null;
        string? dataSource = null;
        if (data is not null)
        {
            var splits = source.LoadData(data, cb.Log);
            trainSet = splits.Train;
            dataSource = splits.Source;
            (train, test) = DataSpec.Loaders(splits.Train, splits.Test, config, source.Preprocessing);
        }
        var total = Stopwatch.StartNew();
        var environment = RunInfo.Environment(config.Seed);
        // Methods may change the model they are given (masks are written into it before compaction); the source folder's
        // model stays as loaded, so one RunFolder can feed several pipelines (the demo's L1 and SNACS).
        var model = source.Model.Copy();

        var sw = Stopwatch.StartNew();
        double? accBefore = test is null ? null : Evaluator.Evaluate(model, test).Accuracy;
        if (test is null) cb.Log("no dataset: accuracy is not measured and is recorded as null");
        var (paramsBefore, macsBefore) = CostCounter.Totals(model.Graph);
        double measureSeconds = sw.Elapsed.TotalSeconds;
        cb.Log($"before: accuracy {Percent(accBefore)}, {paramsBefore:N0} params, {macsBefore:N0} MACs");

        sw.Restart();
        var outcome = r.Method.Prune(new PruneContext
        {
            Model = model, Train = train!, Test = test!, TrainConfig = config, Seed = config.Seed,
            Progress = cb.Progress, Log = cb.Log,
        });
        var pruned = outcome.Pruned;
        // The old running statistics describe the dense layers' outputs; a pruned layer's differ.
        int bnBatches = train is null || !BatchNormRecalibration.HasBatchNorm(pruned) ? 0 : Math.Min(r.BnRecalibrateBatches, train.BatchesPerEpoch);
        if (bnBatches > 0) BatchNormRecalibration.Run(pruned, train!, bnBatches, config.Seed);
        double pruneSeconds = sw.Elapsed.TotalSeconds;
        double? accPruned = test is null ? null : Evaluator.Evaluate(pruned, test).Accuracy;
        var (paramsAfter, macsAfter) = CostCounter.Totals(pruned.Graph);
        if (outcome.Masks is not null) paramsAfter -= outcome.Masks.ZeroCount();
        if (outcome.Macs is long honestMacs) macsAfter = honestMacs;
        cb.Log($"pruned: accuracy {Percent(accPruned)}, {paramsAfter:N0} params ({100.0 * paramsAfter / paramsBefore:F1}%), {macsAfter:N0} MACs ({100.0 * macsAfter / macsBefore:F1}%) in {pruneSeconds:F1}s");

        sw.Restart();
        double? accFinetuned = accPruned;
        JsonArray history = [];
        if (r.FinetuneEpochs > 0)
        {
            var checkpointRecord = (JsonObject)environment.DeepClone();
            checkpointRecord["method"] = r.Method.Name;
            checkpointRecord["source"] = Path.GetFullPath(source.Dir);
            checkpointRecord["dataset"] = data!.Dataset;
            checkpointRecord["config"] = config.ToJson();
            var ftConfig = config with { Epochs = r.FinetuneEpochs };
            var trainer = new Trainer(pruned, ftConfig, train!, test, r.OutDir) { Progress = cb.Progress, RunRecord = checkpointRecord };
            if (r.Resume && r.OutDir is not null && FinetuneResume.Find(r.OutDir, pruned, outcome.Masks, checkpointRecord, ftConfig, cb.Log) is { } cp)
                trainer.Restore(cp);
            if (outcome.Masks is not null) trainer.AddHook(new MaskHook(outcome.Masks));
            if (cb.EpochHook(() => ftConfig.Epochs) is { } hook) trainer.AddHook(hook);
            trainer.Run();
            history = trainer.History;
            accFinetuned = (double)history[^1]!["test_accuracy"]!;
            cb.Log($"fine-tuned {r.FinetuneEpochs} epoch{(r.FinetuneEpochs == 1 ? "" : "s")}: accuracy {accFinetuned * 100:F2}%");
        }
        double finetuneSeconds = sw.Elapsed.TotalSeconds;
        // Source and pruned model timed pass for pass, so a slow spell of a shared machine slows both alike.
        sw.Restart();
        var latency = Latency.MeasurePair(source.Model, pruned, r.LatencyBatch, minSeconds: 1.0);
        measureSeconds += sw.Elapsed.TotalSeconds;

        var record = new PruneRecord
        {
            Environment = environment,
            Command = r.Command,
            Method = r.Method.Name,
            Source = Path.GetFullPath(source.Dir),
            Model = model.Graph.Name,
            Data = data,
            DataSource = dataSource,
            Config = config,
            AccuracyBefore = accBefore,
            AccuracyPruned = accPruned,
            AccuracyFinetuned = accFinetuned,
            BnRecalibrateBatches = bnBatches,
            ParamsBefore = paramsBefore,
            ParamsAfter = paramsAfter,
            MacsBefore = macsBefore,
            MacsAfter = macsAfter,
            LatencyBatch = r.LatencyBatch,
            LatencyMsBefore = latency.First.MedianMs,
            LatencyMsAfter = latency.Second.MedianMs,
            LatencyIqrMsBefore = latency.First.IqrMs,
            LatencyIqrMsAfter = latency.Second.IqrMs,
            FinetuneEpochs = r.FinetuneEpochs,
            Seconds = new Dictionary<string, double> { ["measure"] = measureSeconds, ["prune"] = pruneSeconds, ["finetune"] = finetuneSeconds, ["total"] = total.Elapsed.TotalSeconds },
            Details = outcome.Details,
            History = (JsonArray)history.DeepClone(),
        };
        var result = new PruneResult { Model = pruned, Record = record, Preprocessing = source.DerivedPreprocessing(trainSet, data) };
        if (r.OutDir is not null) result.Save(r.OutDir);
        return result;
    }

    /// <summary>An accuracy as a percentage, or a note that none was measured.</summary>
    public static string Percent(double? accuracy) => accuracy is double v ? $"{v * 100:F2}%" : "not measured (no data)";
}
