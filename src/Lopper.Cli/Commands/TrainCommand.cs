using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Models;
using Lopper.Optim;
using Lopper.Pruning.ComplexityAware;
using Lopper.Pruning.Directional;
using Lopper.Structure;
using Lopper.Training;

namespace Lopper.Cli.Commands;

/// <summary>`lopper train`: trains a zoo model (or resumes a run) on a dataset, with checkpoints every epoch.</summary>
public static class TrainCommand
{
    private const string Usage = """
        lopper train --model NAME [--out DIR] [--epochs N] [--json]
          data:     --dataset fashion-mnist|mnist|cifar10|cifar100 (default fashion-mnist) --data DIR
                    --augment (random crop with 2-pixel padding + horizontal flips)
                    --dataset imagefolder --data DIR (DIR/train/<class>/*.png|jpg, DIR/val/<class>/...)
                    --dataset npy --data DIR|FILE.npz (x_train, y_train, x_val|x_test, y_val|y_test)
                    --resize N (shorter side) --crop N (centre) --val-split F (hold out F of each class, seeded)
                    --random-resized-crop (training: random area 8-100%, aspect 3/4-4/3, back to HxW)
                    --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25 (default: the training split's statistics)
          transfer: --from DIR (start from a trained model) --reset-head N|data (new seeded classifier)
                    --freeze-until NODE (no updates for nodes up to and including NODE)
          optim:    --optimizer sgd|adamw|grda --lr F --momentum F --nesterov --weight-decay F
                    --grda-c F (default 0.005) --grda-mu F (default 0.55) --grda-cover all|weights
                    (grda: no momentum or weight decay; sparsity per epoch; compacted copy in OUT/compacted)
                    --schedule cosine|step|constant --warmup EPOCHS --milestones 10,15 --gamma F
                    --batch-size N --label-smoothing F
                    --train-limit N (train on the first N training images only; kept for prune/finetune/resume)
          run:      --seed N --threads N --resume DIR (continue an interrupted run in DIR)
          method:   --method complexity-aware (Bernoulli gates on units and residual blocks, pruned while training)
                    --strength S (default 1; 0 = no pruning pressure)  --flops-vs-params P (0..1, default 0.5)
                    --layers-vs-units B (0..1, default 0.5; above 0.5 removes whole blocks more readily)
                    --gate-lr F (default 10)  --check-every N (default 25)  --zero-checks K (default 3)
                    --gate-warmup EPOCHS (default 0.25)  --settle-epochs N (last N epochs without gates; default 1)
                    --no-gate-downsampling
        """;

    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "json", "help", "nesterov", "augment", "no-gate-downsampling" });
        if (a.Flag("help")) { Console.WriteLine(Usage); return 0; }
        var sw = Stopwatch.StartNew();
        bool json = a.Flag("json");
        CommonOptions.ApplyThreads(a);
        string? resume = a.Str("resume");
        string? outDir = a.Str("out") ?? resume;
        Model model;
        TrainConfig config;
        string dataset;
        string? dataDir = a.Str("data");
        DataOptions dataOptions;
        Preprocessing? savedPre = null;
        ComplexityAwareOptions? gates = null;
        JsonObject? gateRecord = null;
        Checkpoint? checkpoint = null;
        // One writer per folder; taken before anything is read so no other run changes the files underneath.
        using var outLock = outDir is null ? null : RunLock.Acquire(outDir, a.Has("out") ? "--out" : "--resume");
        if (outDir is not null) Checkpoint.Recover(outDir);
        if (resume is not null)
        {
            checkpoint = Checkpoint.Latest(resume);
            foreach (var skipped in checkpoint.Skipped) Console.Error.WriteLine($"lopper train: warning: skipped a checkpoint that failed its checks: {skipped}");
            config = checkpoint.Config;
            if (a.Has("epochs")) config = config with { Epochs = a.Int("epochs", config.Epochs, 1) };
            var runJson = checkpoint.Run;
            string runPath = Path.Combine(checkpoint.Dir, "run.json");
            dataset = SourceRun.Text(runJson, "dataset", runPath) ?? "fashion-mnist";
            dataDir ??= SourceRun.Text(runJson, "data_dir", runPath);
            dataOptions = DataFlags.FromRun(runJson);
            savedPre = DataFlags.LoadPreprocessing(resume);
            model = checkpoint.Model;
            if (a.Has("method") || ComplexityAwareFlags.AnyGiven(a))
                throw new LopperInputException($"--resume {resume}: --method and its flags come from the saved run; drop them");
            if (runJson["complexity_aware"] is JsonObject saved)
            {
                gates = ComplexityAwareOptions.FromJson(saved, runPath);
                gateRecord = (JsonObject)saved.DeepClone();
                if (gateRecord["dense_params"] is not JsonValue dp || !dp.TryGetValue(out long _) || gateRecord["dense_macs"] is not JsonValue dm || !dm.TryGetValue(out long _))
                    throw new LopperInputException($"{runPath}: complexity_aware.dense_params and dense_macs must be integers");
            }
            else if (runJson["complexity_aware"] is not null) throw new LopperInputException($"{runPath}: field 'complexity_aware' must be an object");
        }
        else
        {
            dataset = a.Str("dataset", "fashion-mnist");
            config = ReadConfig(a);
            dataOptions = DataFlags.Read(a, config.Seed);
            model = null!;
            string? method = a.Str("method");
            if (method is not null && method != "complexity-aware") throw new LopperInputException($"--method must be complexity-aware, got '{method}'");
            if (method is null && ComplexityAwareFlags.AnyGiven(a)) throw new LopperInputException("--strength, --flops-vs-params, --layers-vs-units and the other gate flags need --method complexity-aware");
            if (method is not null)
            {
                if (config.Optimizer == "grda") throw new LopperInputException("--method complexity-aware cannot be combined with --optimizer grda");
                gates = ComplexityAwareFlags.Read(a);
            }
        }
        // On resume these come from the saved run; reading them marks them as known flags.
        a.Has("model"); a.Has("epochs"); a.Has("dataset");
        var splits = CommonOptions.LoadData(dataset, dataDir, dataOptions);
        var (trainSet, testSet) = splits;
        var (transferred, sourcePre) = resume is null ? TransferFlags.Load(a, trainSet, config.Seed) : (null, null);
        model ??= transferred!;
        if (model is null)
        {
            var graph = ModelZoo.Create(a.Required("model"), [trainSet.Channels, trainSet.Height, trainSet.Width], trainSet.ClassCount);
            model = new Model(graph, config.Seed);
        }
        else if (!model.Graph.InputShape.AsSpan().SequenceEqual(new[] { trainSet.Channels, trainSet.Height, trainSet.Width }))
        {
            throw new LopperInputException($"--resume {resume}: model input {string.Join("x", model.Graph.InputShape)} does not match dataset {dataset}");
        }
        var pre = savedPre ?? TrainPreprocessing(a, trainSet, sourcePre, dataOptions, dataset);
        string? freeze = a.Str("freeze-until");
        if (freeze is not null && gates is not null) throw new LopperInputException("--freeze-until cannot be combined with --method complexity-aware");
        var frozen = freeze is null ? null : Transfer.FreezeUntil(model, freeze);
        a.EnsureAllUsed();
        var (train, test) = CommonOptions.Loaders(trainSet, testSet, config, pre);
        bool rrc = resume is null ? a.Flag("random-resized-crop") : dataOptions.RandomResizedCrop;
        if (rrc) train = train.WithRandomResizedCrop();
        var trainer = new Trainer(model, config, train, test, outDir) { Progress = new ProgressBar(), ExcludeFromOptimizer = frozen };
        if (checkpoint is not null)
        {
            trainer.Restore(checkpoint);
            // Repairs the top-level files if a kill fell between them; they then match the checkpoint resumed from.
            if (outDir is not null)
                Trainer.Publish(outDir, model, new Dictionary<string, string> { ["epoch"] = checkpoint.CompletedEpochs.ToString(System.Globalization.CultureInfo.InvariantCulture) }, Lopper.Io.JsonText.Write(checkpoint.Run));
        }
        ComplexityAwareHook? gateHook = null;
        if (gates is not null)
        {
            // The dense counts normalise the complexity term for the whole run, so a resume reuses the saved ones.
            var (p0, m0) = gateRecord is null ? CostCounter.Totals(model.Graph) : ((long)gateRecord["dense_params"]!, (long)gateRecord["dense_macs"]!);
            gateRecord ??= gates.ToJson();
            gateRecord["dense_params"] = p0;
            gateRecord["dense_macs"] = m0;
            gateHook = ComplexityAwareTraining.Attach(trainer, gates, p0, m0, train.BatchesPerEpoch, s => Console.Error.WriteLine(s));
        }
        var run = RunInfo.Environment(config.Seed);
        run["command"] = "lopper train " + string.Join(' ', raw);
        run["model"] = model.Graph.Name;
        run["dataset"] = dataset;
        if (dataDir is not null) run["data_dir"] = Path.GetFullPath(dataDir);
        run["data_source"] = splits.Source;
        run["data_options"] = DataFlags.ToJson(dataOptions with { RandomResizedCrop = rrc });
        if (a.Str("from") is string fromDir) run["transfer_from"] = Path.GetFullPath(fromDir);
        if (freeze is not null) run["freeze_until"] = freeze;
        if (gateRecord is not null)
        {
            run["method"] = "complexity-aware";
            run["complexity_aware"] = gateRecord;
        }
        trainer.RunRecord = run;
        int startEpoch = trainer.CompletedEpochs;
        bool grda = config.Optimizer == "grda";
        // Before the logger, so the epoch line can show the sparsity.
        if (grda) trainer.AddHook(new SparsityHook());
        var epochReporter = new EpochLogger(trainer);
        trainer.AddHook(epochReporter);
        if (outDir is not null) pre.Save(outDir);
        trainer.Run();
        model = trainer.Model; // complexity-aware training swaps in ever smaller models
        var last = trainer.History.Count > 0 ? trainer.History[^1]! : new JsonObject();
        double seconds = sw.Elapsed.TotalSeconds;
        int ran = trainer.CompletedEpochs - startEpoch;
        double trainSeconds = 0;
        for (int i = startEpoch; i < trainer.History.Count; i++) trainSeconds += (double)trainer.History[i]!["train_seconds"]!;
        var result = new JsonObject
        {
            ["model"] = model.Graph.Name,
            ["dataset"] = dataset,
            ["epochs"] = trainer.CompletedEpochs,
            ["test_accuracy"] = last["test_accuracy"]?.DeepClone(),
            ["best_test_accuracy"] = trainer.BestAccuracy,
            ["train_loss"] = last["train_loss"]?.DeepClone(),
            ["seconds"] = seconds,
            ["seconds_per_epoch"] = ran > 0 ? trainSeconds / ran : 0,
            ["params"] = model.ParameterCount(),
            ["macs"] = model.Graph.Macs(),
            ["seed"] = config.Seed,
            ["threads"] = Parallelism.Threads,
            ["out"] = outDir is null ? null : Path.GetFullPath(outDir),
        };
        if (grda) result["grda"] = GrdaReport(model, outDir, json);
        if (outDir is not null) DataFlags.SpreadPreprocessing(pre, outDir);
        if (gateHook is not null)
        {
            var d = gateHook.Details();
            d.Remove("removals");
            d["params_kept"] = (double)model.ParameterCount() / gateHook.DenseParams;
            d["macs_kept"] = (double)model.Graph.Macs() / gateHook.DenseMacs;
            d["gates_folded"] = gateHook.Finished;
            result["complexity_aware"] = d;
        }
        if (json) JsonOutput.Print(result);
        else Console.WriteLine($"done: test accuracy {(double?)last["test_accuracy"] * 100:F2}% after {trainer.CompletedEpochs} epochs in {ProgressBar.FormatSeconds(seconds)}" + (outDir is null ? "" : $"; saved to {outDir}"));
        return 0;
    }

    /// <summary>The preprocessing record of a new run: --mean/--std, else a transfer source's, else the training split's statistics.</summary>
    private static Preprocessing TrainPreprocessing(Args a, Dataset train, Preprocessing? source, DataOptions o, string dataset)
    {
        var (mean, std) = DataFlags.ReadNormalisation(a, train.Channels);
        if (mean is null && source is not null && source.Mean.Length == train.Channels) (mean, std) = (source.Mean, source.Std);
        if (mean is null) (mean, std) = train.ChannelStats();
        return Preprocessing.For(train, mean, std!, o.Resize, o.Crop, dataset);
    }

    private static TrainConfig ReadConfig(Args a)
    {
        var d = new TrainConfig();
        string model = a.Str("model") ?? TransferFlags.ModelName(a.Str("from"));
        bool augment = a.Flag("augment");
        string optimizer = a.Str("optimizer", d.Optimizer);
        bool grda = optimizer == "grda";
        if (grda)
        {
            // The method and its theory assume plain stochastic gradients; silently dropping these would mislead.
            if (a.Real("momentum", 0, 0, 1) != 0 || a.Flag("nesterov") || a.Real("weight-decay", 0, 0) != 0)
                throw new LopperInputException("--optimizer grda uses no momentum and no weight decay; drop --momentum, --nesterov and --weight-decay (or set them to 0)");
        }
        else if (a.Has("grda-c") || a.Has("grda-mu") || a.Has("grda-cover"))
        {
            throw new LopperInputException("--grda-c, --grda-mu and --grda-cover need --optimizer grda");
        }
        var config = new TrainConfig
        {
            Epochs = a.Int("epochs", d.Epochs, 1),
            BatchSize = a.Int("batch-size", d.BatchSize, 1),
            Optimizer = optimizer,
            Lr = a.Single("lr", model == "lenet5" ? 0.05 : d.Lr, 0),
            Momentum = grda ? 0f : a.Single("momentum", d.Momentum, 0, 1),
            Nesterov = a.Flag("nesterov"),
            WeightDecay = grda ? 0f : a.Single("weight-decay", d.WeightDecay, 0),
            GrdaC = a.Real("grda-c", d.GrdaC, 0),
            GrdaMu = a.Real("grda-mu", d.GrdaMu, 0),
            GrdaCover = a.Str("grda-cover", "all") switch
            {
                "all" => GrdaCoverage.All,
                "weights" => GrdaCoverage.Weights,
                var v => throw new LopperInputException($"--grda-cover must be all or weights, got '{v}'"),
            },
            Schedule = LrSchedule.ParseKind(a.Str("schedule", "cosine")),
            WarmupEpochs = a.Real("warmup", 0, 0),
            Milestones = a.Ints("milestones", []),
            Gamma = a.Single("gamma", 0.1, 0),
            LabelSmoothing = a.Single("label-smoothing", 0, 0, 1),
            Seed = (ulong)a.Int("seed", 0, 0),
            CropPadding = augment ? 2 : 0,
            Flip = augment,
            TrainLimit = a.Int("train-limit", 0, 0),
        };
        config.Validate(TrainConfig.FlagName);
        return config;
    }

    /// <summary>
    /// gRDA leaves exact zeros; filters and channels that ended entirely zero are compacted away (saved to
    /// OUT/compacted) and what remains unstructured is reported.
    /// </summary>
    private static JsonObject GrdaReport(Model model, string? outDir, bool json)
    {
        var stats = SparsityStats.Of(model);
        var compact = EffectiveCost.Compact(model);
        var (cParams, cMacs) = CostCounter.Totals(compact.Graph);
        var compactStats = SparsityStats.Of(compact);
        long nonzero = compactStats.Total - compactStats.Zeros;
        long params0 = model.ParameterCount(), macs0 = model.Graph.Macs();
        string? dir = outDir is null ? null : Path.Combine(outDir, "compacted");
        if (dir is not null) ModelStore.Save(compact, dir);
        var report = new JsonObject();
        report["sparsity"] = stats.Sparsity;
        report["weight_sparsity"] = stats.WeightSparsity;
        report["nonzero_params"] = stats.Total - stats.Zeros;
        report["compacted_params"] = cParams;
        report["compacted_macs"] = cMacs;
        report["params_kept"] = params0 == 0 ? 0 : (double)cParams / params0;
        report["macs_kept"] = macs0 == 0 ? 0 : (double)cMacs / macs0;
        report["compacted_nonzero_params"] = nonzero;
        report["compacted_unstructured_sparsity"] = compactStats.Sparsity;
        report["compacted"] = dir is null ? null : Path.GetFullPath(dir);
        if (!json)
            Console.WriteLine($"grda: sparsity {stats.Sparsity * 100:F2}%; compacted keeps {(double)report["params_kept"]! * 100:F1}% of params and {(double)report["macs_kept"]! * 100:F1}% of MACs, " +
                $"{(double)report["compacted_unstructured_sparsity"]! * 100:F2}% of its values still zero" + (dir is null ? "" : $"; saved to {dir}"));
        return report;
    }
}
