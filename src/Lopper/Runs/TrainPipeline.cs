using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Data.Images;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Models;
using Lopper.Pruning.ComplexityAware;
using Lopper.Pruning.Directional;
using Lopper.Structure;
using Lopper.Training;

namespace Lopper.Runs;

/// <summary>
/// Training runs behind `lopper train` and the experiment runner: plain training, gRDA and complexity-aware gate
/// training, with a checkpoint every epoch; <see cref="Resume"/> continues any of them bit-exactly.
/// </summary>
public static class TrainPipeline
{
    /// <summary>Runs <paramref name="request"/> from its first epoch.</summary>
    public static TrainResult Run(TrainRequest request, RunCallbacks? callbacks = null)
    {
        var r = request.Validate();
        var cb = callbacks ?? RunCallbacks.None;
        var sw = Stopwatch.StartNew();
        using var outLock = r.OutDir is null ? null : RunLock.Acquire(r.OutDir);
        if (r.OutDir is not null) Checkpoint.Recover(r.OutDir);
        var splits = r.Splits ?? r.Data.Load(cb.Log);
        var (trainSet, _) = splits;
        var model = r.Start ?? new Model(ModelZoo.Create(r.ModelName!, [trainSet.Channels, trainSet.Height, trainSet.Width], trainSet.ClassCount), r.Config.Seed);
        if (!model.Graph.InputShape.AsSpan().SequenceEqual(new[] { trainSet.Channels, trainSet.Height, trainSet.Width }))
            throw new LopperInputException($"model takes {string.Join("x", model.Graph.InputShape)}, the data is {trainSet.Channels}x{trainSet.Height}x{trainSet.Width} (resize or crop the data to match)");
        if (model.Graph.Classes != trainSet.ClassCount)
            throw new LopperInputException($"model has {model.Graph.Classes} classes, the data {trainSet.ClassCount}; reset the classifier (Transfer.ResetHead) to {trainSet.ClassCount}");
        if (r.Normalisation is var (m, sd) && (m.Length != trainSet.Channels || sd.Length != trainSet.Channels))
            throw new LopperInputException($"the normalisation (mean and std) needs {trainSet.Channels} value(s) each, one per channel, got {m.Length} and {sd.Length}");
        var (mean, std) = r.Normalisation
            ?? (r.StartFolder?.Preprocessing is { } sp && sp.Mean.Length == trainSet.Channels ? (sp.Mean, sp.Std) : trainSet.ChannelStats());
        var pre = Preprocessing.For(trainSet, mean, std, r.Data.Options.Resize, r.Data.Options.Crop, r.Data.Dataset);
        var frozen = r.FreezeUntil is null ? null : Transfer.FreezeUntil(model, r.FreezeUntil);
        var run = RunInfo.Environment(r.Config.Seed);
        if (r.Command is not null) run["command"] = r.Command;
        run["model"] = model.Graph.Name;
        if (r.StartFolder is not null) run["transfer_from"] = Path.GetFullPath(r.StartFolder.Dir);
        if (r.FreezeUntil is not null) run["freeze_until"] = r.FreezeUntil;
        JsonObject? gateRecord = null;
        if (r.Gates is not null)
        {
            // The dense counts normalise the complexity term for the whole run, so a resume reuses the saved ones.
            var (p0, m0) = CostCounter.Totals(model.Graph);
            gateRecord = r.Gates.ToJson();
            gateRecord["dense_params"] = p0;
            gateRecord["dense_macs"] = m0;
        }
        return Train(model, r.Config, r.Data, splits, pre, r.Gates, gateRecord, run, null, frozen, r.OutDir, sw, cb);
    }

    /// <summary>
    /// Continues the interrupted or finished run in <paramref name="dir"/> from its newest valid checkpoint, with
    /// everything as saved (data, config, method); <paramref name="epochs"/> extends or shortens the run.
    /// </summary>
    public static TrainResult Resume(string dir, int? epochs = null, RunCallbacks? callbacks = null, IImageDecoder? decoder = null)
    {
        var cb = callbacks ?? RunCallbacks.None;
        var sw = Stopwatch.StartNew();
        using var outLock = RunLock.Acquire(dir);
        Checkpoint.Recover(dir);
        var checkpoint = Checkpoint.Latest(dir);
        foreach (var skipped in checkpoint.Skipped) cb.Log($"warning: skipped a checkpoint that failed its checks: {skipped}");
        var config = checkpoint.Config;
        if (epochs is int e)
        {
            if (e < 1) throw LopperInputException.ForOptions<TrainConfig>($"Epochs must be at least 1, got {e}", nameof(TrainConfig.Epochs));
            config = config with { Epochs = e };
        }
        var saved = checkpoint.Run;
        string runPath = Path.Combine(checkpoint.Dir, RunFolder.RunFile);
        var data = new DataSpec
        {
            Dataset = RunFolder.Text(saved, "dataset", runPath) ?? "fashion-mnist",
            Dir = RunFolder.Text(saved, "data_dir", runPath),
            Options = DataSpec.OptionsFromRun(saved, decoder),
        };
        ComplexityAwareOptions? gates = null;
        JsonObject? gateRecord = null;
        if (saved["complexity_aware"] is JsonObject ca)
        {
            gates = ComplexityAwareOptions.FromJson(ca, runPath);
            gateRecord = (JsonObject)ca.DeepClone();
            if (gateRecord["dense_params"] is not JsonValue dp || !dp.TryGetValue(out long _) || gateRecord["dense_macs"] is not JsonValue dm || !dm.TryGetValue(out long _))
                throw new LopperInputException($"{runPath}: complexity_aware.dense_params and dense_macs must be integers");
        }
        else if (saved["complexity_aware"] is not null) throw new LopperInputException($"{runPath}: field 'complexity_aware' must be an object");
        var splits = data.Load(cb.Log);
        var (trainSet, _) = splits;
        var model = checkpoint.Model;
        if (!model.Graph.InputShape.AsSpan().SequenceEqual(new[] { trainSet.Channels, trainSet.Height, trainSet.Width }))
            throw new LopperInputException($"{dir}: model input {string.Join("x", model.Graph.InputShape)} does not match dataset {data.Dataset}");
        var pre = Preprocessing.TryLoad(dir) ?? data.StatisticsPreprocessing(trainSet);
        var run = (JsonObject)saved.DeepClone();
        foreach (var derived in new[] { "config", "epochs_completed", "best_test_accuracy", "test_accuracy", "params", "macs", "history" }) run.Remove(derived);
        // Where and how this part ran (threads, machine) may differ from the first part; the seed stays the run's.
        foreach (var (key, value) in RunInfo.Environment(config.Seed)) run[key] = value?.DeepClone();
        return Train(model, config, data, splits, pre, gates, gateRecord, run, checkpoint, null, dir, sw, cb);
    }

    private static TrainResult Train(Model model, TrainConfig config, DataSpec data, DataSplits splits, Preprocessing pre, ComplexityAwareOptions? gates,
        JsonObject? gateRecord, JsonObject run, Checkpoint? checkpoint, Func<Parameter, bool>? frozen, string? outDir, Stopwatch sw, RunCallbacks cb)
    {
        var (trainSet, testSet) = splits;
        var (train, test) = DataSpec.Loaders(trainSet, testSet, config, pre);
        if (data.Options.RandomResizedCrop) train = train.WithRandomResizedCrop();
        var trainer = new Trainer(model, config, train, test, outDir) { Progress = cb.Progress, ExcludeFromOptimizer = frozen };
        if (checkpoint is not null)
        {
            trainer.Restore(checkpoint);
            // Repairs the top-level files if a kill fell between them; they then match the checkpoint resumed from.
            if (outDir is not null)
                Trainer.Publish(outDir, model, new Dictionary<string, string> { ["epoch"] = checkpoint.CompletedEpochs.ToString(CultureInfo.InvariantCulture) }, JsonText.Write(checkpoint.Run));
        }
        ComplexityAwareHook? gateHook = null;
        if (gates is not null)
            gateHook = ComplexityAwareTraining.Attach(trainer, gates, (long)gateRecord!["dense_params"]!, (long)gateRecord["dense_macs"]!, train.BatchesPerEpoch, cb.Log);
        run["dataset"] = data.Dataset;
        if (data.Dir is not null) run["data_dir"] = Path.GetFullPath(data.Dir);
        run["data_source"] = splits.Source;
        run["data_options"] = DataSpec.OptionsToJson(data.Options);
        if (gateRecord is not null)
        {
            run["method"] = "complexity-aware";
            run["complexity_aware"] = gateRecord;
        }
        trainer.RunRecord = run;
        int startEpoch = trainer.CompletedEpochs;
        bool grda = config.Optimizer == "grda";
        // Before the epoch callback, so the epoch's record carries the sparsity.
        if (grda) trainer.AddHook(new SparsityHook());
        if (cb.EpochHook(() => config.Epochs) is { } hook) trainer.AddHook(hook);
        if (outDir is not null) pre.Save(outDir);
        trainer.Run();
        model = trainer.Model; // complexity-aware training swaps in ever smaller models
        var last = trainer.History.Count > 0 ? trainer.History[^1]! : new JsonObject();
        int ran = trainer.CompletedEpochs - startEpoch;
        double ranSeconds = 0, allSeconds = 0;
        for (int i = 0; i < trainer.History.Count; i++)
        {
            double t = (double?)trainer.History[i]!["train_seconds"] ?? 0;
            if (i >= startEpoch) ranSeconds += t;
            allSeconds += t + ((double?)trainer.History[i]!["eval_seconds"] ?? 0);
        }
        JsonObject? caDetails = null;
        if (gateHook is not null)
        {
            caDetails = gateHook.Details();
            caDetails.Remove("removals");
            caDetails["params_kept"] = (double)model.ParameterCount() / gateHook.DenseParams;
            caDetails["macs_kept"] = (double)model.Graph.Macs() / gateHook.DenseMacs;
            caDetails["gates_folded"] = gateHook.Finished;
        }
        var grdaSummary = grda ? Grda(model, outDir) : null;
        if (outDir is not null) RunFolder.SavePreprocessing(pre, outDir);
        return new TrainResult
        {
            Model = model,
            Dataset = data.Dataset,
            Epochs = trainer.CompletedEpochs,
            TestAccuracy = (double?)last["test_accuracy"],
            BestTestAccuracy = trainer.BestAccuracy,
            TrainLoss = (double?)last["train_loss"],
            Seconds = sw.Elapsed.TotalSeconds,
            SecondsPerEpoch = ran > 0 ? ranSeconds / ran : 0,
            TrainSeconds = allSeconds,
            Params = model.ParameterCount(),
            Macs = model.Graph.Macs(),
            Seed = config.Seed,
            Threads = Parallelism.Threads,
            OutDir = outDir is null ? null : Path.GetFullPath(outDir),
            Grda = grdaSummary,
            ComplexityAware = caDetails,
            History = (JsonArray)trainer.History.DeepClone(),
        };
    }

    /// <summary>gRDA's sparsity; filters and channels that ended entirely zero compacted away (saved to OUT/compacted).</summary>
    private static GrdaSummary Grda(Model model, string? outDir)
    {
        var stats = SparsityStats.Of(model);
        var compact = EffectiveCost.Compact(model);
        var (cParams, cMacs) = CostCounter.Totals(compact.Graph);
        var compactStats = SparsityStats.Of(compact);
        long params0 = model.ParameterCount(), macs0 = model.Graph.Macs();
        string? dir = outDir is null ? null : Path.Combine(outDir, "compacted");
        if (dir is not null) ModelStore.Save(compact, dir);
        return new GrdaSummary
        {
            Sparsity = stats.Sparsity,
            WeightSparsity = stats.WeightSparsity,
            NonzeroParams = stats.Total - stats.Zeros,
            CompactedParams = cParams,
            CompactedMacs = cMacs,
            ParamsKept = params0 == 0 ? 0 : (double)cParams / params0,
            MacsKept = macs0 == 0 ? 0 : (double)cMacs / macs0,
            CompactedNonzeroParams = compactStats.Total - compactStats.Zeros,
            CompactedUnstructuredSparsity = compactStats.Sparsity,
            Compacted = dir is null ? null : Path.GetFullPath(dir),
        };
    }
}
