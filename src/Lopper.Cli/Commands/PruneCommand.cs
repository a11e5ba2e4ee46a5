using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Measurement;
using Lopper.Pruning;
using Lopper.Pruning.Baselines;
using Lopper.Pruning.ComplexityAware;
using Lopper.Pruning.SrInit;
using Lopper.Pruning.Spp;
using Lopper.Structure;
using Lopper.Training;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper prune METHOD`: measures the trained model, prunes it, measures again right after pruning,
/// fine-tunes, measures a third time, and writes the compacted model with a run.json of every figure.
/// </summary>
public static class PruneCommand
{
    private static readonly string Usage = $"""
        lopper prune METHOD --from DIR --out DIR2 [--finetune-epochs N] [--json]
          methods:  l1 | bn-slimming | magnitude | random | srinit | spp | complexity-aware | snacs
          budget:   --target-macs F | --target-params F   (fraction kept, e.g. 0.5)
                    --scope global|layer  --max-layer-ratio F (default 0.9)  --round-to N
          bn-slimming: --sparsity F (default 1e-4) --sparsity-epochs N (default 1)
          srinit:   --tau T (remove blocks whose accuracy drop <= T, a fraction) | --blocks K | --target-params F
                    --criterion srinit|random|l1 (default srinit)  --eval-samples N (default 0 = whole test set)
                    --donor-seed N (default 1)  --include-downsampling (let down-sampling blocks go too)
          spp:      --target-speedup S (conv MACs) | --ratios conv1=0.5,conv2=0.3 (column ratio per conv)
                    --interval t (default 180)  --A F (default 0.05)  --u F (default 0.25)
                    --prune-epochs N (default 10)  --retrain-epochs N (default 0; --finetune-epochs retrains too)
                    --scale-survivors (scale kept columns by 1 - p when a layer stops)
          complexity-aware: --gate-epochs N (default 1; gate training from the trained model, at --lr)
                    --strength S (default 1; 0 = no pruning pressure)  --flops-vs-params P (0..1, default 0.5)
                    --layers-vs-units B (0..1, default 0.5; above 0.5 removes whole blocks more readily)
                    --gate-lr F (default 10)  --check-every N (default 25)  --zero-checks K (default 3)
                    --gate-warmup EPOCHS (default 0.25)  --settle-epochs N (last N epochs without gates; default 1)
                    --no-gate-downsampling
        {SnacsFlags.Usage}
          fine-tune: --lr F (default 0.01) --batch-size N --seed N
                    --bn-recalibrate N (re-estimate batch-norm statistics on N training batches right
                    after pruning, before "accuracy pruned" and fine-tuning; default 0 = keep the old ones)
                    --train-limit N (first N training images; default: the source run's, 0 = all)
          other:    --dataset NAME --data DIR --threads N --latency-batch N (default 128)
          no data:  without --dataset/--data and with no dataset in the folder's run.json (an imported model),
                    l1, random and magnitude prune without data; accuracy is then not measured (recorded as null)
        """;

    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "json", "help", "include-downsampling", "scale-survivors", "no-gate-downsampling", "no-upper-limits" });
        if (a.Flag("help") || a.Positional.Count == 0) { Console.WriteLine(Usage); return a.Positional.Count == 0 && !a.Has("help") ? 2 : 0; }
        string methodName = a.Positional[0];
        string from = a.Required("from");
        string outDir = a.Required("out");
        CommonOptions.CheckOutFrom(outDir, from);
        bool json = a.Flag("json");
        CommonOptions.ApplyThreads(a);
        int finetuneEpochs = a.Int("finetune-epochs", 0, 0);
        int latencyBatch = a.Int("latency-batch", 128, 1);
        int bnBatches = a.Int("bn-recalibrate", 0, 0);
        var method = CreateMethod(methodName, a);
        var source = SourceRun.Load(from, a.Str("dataset"), a.Str("data"));
        var ftConfig = source.TrainConfig with
        {
            Epochs = Math.Max(1, finetuneEpochs),
            Lr = a.Single("lr", 0.01, 0),
            BatchSize = a.Int("batch-size", 128, 1),
            Seed = (ulong)a.Int("seed", (int)source.TrainConfig.Seed, 0),
            WarmupEpochs = 0,
            Schedule = Lopper.Optim.ScheduleKind.Cosine,
            Optimizer = "sgd",
            TrainLimit = a.Int("train-limit", source.TrainConfig.TrainLimit, 0),
        };
        a.EnsureAllUsed(positionalAllowed: 1);
        ftConfig.Validate(TrainConfig.FlagName);
        using var outLock = RunLock.Acquire(outDir);
        bool hasData = a.Str("dataset") is not null || a.Str("data") is not null || source.Run["dataset"] is not null;
        if (!hasData)
        {
            const string give = "give --dataset NAME (and --data DIR)";
            if (methodName is not ("l1" or "random" or "magnitude"))
                throw new LopperInputException($"prune {methodName} needs data and {from} names no dataset: {give}; l1, random and magnitude prune without data");
            if (finetuneEpochs > 0) throw new LopperInputException($"fine-tuning needs data and {from} names no dataset: {give}, or --finetune-epochs 0");
            if (bnBatches > 0) throw new LopperInputException($"--bn-recalibrate needs data and {from} names no dataset: {give}");
        }
        DataLoader? train = null, test = null;
        Dataset? trainSet = null;
        if (hasData)
        {
            (trainSet, var testSet) = source.Data();
            (train, test) = CommonOptions.Loaders(trainSet, testSet, ftConfig, source.Preprocessing);
        }
        var total = Stopwatch.StartNew();
        var model = source.Model;
        var record = RunInfo.Environment(ftConfig.Seed);
        record["command"] = "lopper prune " + string.Join(' ', raw);
        record["method"] = method.Name;
        record["source"] = Path.GetFullPath(from);
        record["model"] = model.Graph.Name;
        record["dataset"] = hasData ? source.Dataset : null;
        if (source.DataDir is not null) record["data_dir"] = source.DataDir;
        record["data_source"] = source.DataSource;
        source.Record(record);
        record["config"] = ftConfig.ToJson();

        void Log(string s) => Console.Error.WriteLine(s);
        var sw = Stopwatch.StartNew();
        double? accBefore = test is null ? null : Evaluator.Evaluate(model, test).Accuracy;
        if (test is null) Log("no dataset: accuracy is not measured and is recorded as null (give --dataset NAME to measure it)");
        var (paramsBefore, macsBefore) = CostCounter.Totals(model.Graph);
        var latBefore = Latency.Measure(model, latencyBatch);
        double measureSeconds = sw.Elapsed.TotalSeconds;
        Log($"before: accuracy {Pct(accBefore)}, {paramsBefore:N0} params, {macsBefore:N0} MACs, {latBefore.MedianMs:F1} ms/batch {latencyBatch}");

        sw.Restart();
        var outcome = method.Prune(new PruneContext
        {
            Model = model, Train = train!, Test = test!, TrainConfig = ftConfig, Seed = ftConfig.Seed,
            Progress = new ProgressBar(), Log = Log,
        });
        var pruned = outcome.Pruned;
        // The old running statistics describe the dense layers' outputs; a pruned layer's differ.
        if (bnBatches > 0) BatchNormRecalibration.Run(pruned, train!, bnBatches, ftConfig.Seed);
        double pruneSeconds = sw.Elapsed.TotalSeconds;
        double? accPruned = test is null ? null : Evaluator.Evaluate(pruned, test).Accuracy;
        var (paramsAfter, macsAfter) = CostCounter.Totals(pruned.Graph);
        if (outcome.Masks is not null) paramsAfter -= outcome.Masks.ZeroCount();
        if (outcome.Macs is long honestMacs) macsAfter = honestMacs;
        Log($"pruned: accuracy {Pct(accPruned)}, {paramsAfter:N0} params ({100.0 * paramsAfter / paramsBefore:F1}%), {macsAfter:N0} MACs ({100.0 * macsAfter / macsBefore:F1}%) in {pruneSeconds:F1}s");

        sw.Restart();
        double? accFinetuned = accPruned;
        JsonArray history = new();
        if (finetuneEpochs > 0)
        {
            var trainer = new Trainer(pruned, ftConfig with { Epochs = finetuneEpochs }, train!, test, outDir) { Progress = new ProgressBar(), RunRecord = record };
            if (outcome.Masks is not null) trainer.AddHook(new MaskHook(outcome.Masks));
            trainer.AddHook(new EpochLogger(trainer));
            trainer.Run();
            history = trainer.History;
            accFinetuned = (double)history[^1]!["test_accuracy"]!;
            Log($"fine-tuned {finetuneEpochs} epoch(s): accuracy {accFinetuned * 100:F2}%");
        }
        double finetuneSeconds = sw.Elapsed.TotalSeconds;
        var latAfter = Latency.Measure(pruned, latencyBatch);

        record["accuracy_before"] = accBefore;
        record["accuracy_pruned"] = accPruned;
        record["bn_recalibrate_batches"] = bnBatches;
        record["accuracy_finetuned"] = accFinetuned;
        record["params_before"] = paramsBefore;
        record["params_after"] = paramsAfter;
        record["macs_before"] = macsBefore;
        record["macs_after"] = macsAfter;
        record["latency_batch"] = latencyBatch;
        record["latency_ms_before"] = latBefore.MedianMs;
        record["latency_ms_after"] = latAfter.MedianMs;
        record["latency_iqr_ms_before"] = latBefore.IqrMs;
        record["latency_iqr_ms_after"] = latAfter.IqrMs;
        record["finetune_epochs"] = finetuneEpochs;
        record["seconds"] = new JsonObject { ["measure"] = measureSeconds, ["prune"] = pruneSeconds, ["finetune"] = finetuneSeconds, ["total"] = total.Elapsed.TotalSeconds };
        record["details"] = outcome.Details;
        record["history"] = history.DeepClone();
        ModelStore.Save(pruned, outDir);
        AtomicFile.WriteText(Path.Combine(outDir, "run.json"), JsonText.Write(record));
        source.SavePreprocessing(outDir, trainSet);
        if (json)
        {
            var o = (JsonObject)record.DeepClone();
            o.Remove("history");
            o.Remove("details");
            o["out"] = Path.GetFullPath(outDir);
            JsonOutput.Print(o);
        }
        else
        {
            // With no fine-tuning there is no fine-tuned accuracy to show (run.json keeps the pruned one in its place).
            string after = finetuneEpochs > 0 ? $" -> {Pct(accFinetuned)} (fine-tuned {finetuneEpochs} epoch{(finetuneEpochs == 1 ? "" : "s")})" : ", no fine-tuning";
            Console.WriteLine($"{method.Name}: accuracy {Pct(accBefore)} -> {Pct(accPruned)} (pruned){after}; " +
                $"params {100.0 * paramsAfter / paramsBefore:F1}%, MACs {100.0 * macsAfter / macsBefore:F1}%, latency {latBefore.MedianMs:F1} -> {latAfter.MedianMs:F1} ms; saved to {outDir}");
        }
        return 0;
    }

    private static string Pct(double? acc) => acc is double v ? $"{v * 100:F2}%" : "not measured (no data)";

    /// <summary>Creates a method from its name and flags.</summary>
    public static IPruningMethod CreateMethod(string name, Args a)
    {
        Budget ReadBudget()
        {
            bool macs = a.Has("target-macs"), prms = a.Has("target-params");
            if (macs == prms) throw new LopperInputException("give exactly one of --target-macs F or --target-params F (fraction kept)");
            var kind = macs ? BudgetKind.Macs : BudgetKind.Params;
            double f = a.Real(macs ? "target-macs" : "target-params", 0.5);
            return new Budget(kind, f, a.Str("scope", "global"), a.Real("max-layer-ratio", 0.9), a.Int("round-to", 1)).Validate();
        }
        return name switch
        {
            "l1" => new L1FilterPruner(ReadBudget()),
            "random" => new RandomChannelPruner(ReadBudget()),
            "bn-slimming" => new BnSlimmingPruner(ReadBudget(), a.Real("sparsity", 1e-4, 0), a.Int("sparsity-epochs", 1, 0)),
            "magnitude" => new MagnitudePruner(ReadBudget()),
            "srinit" => new SrInitPruner(new SrInitOptions
            {
                Tau = a.Has("tau") ? a.Real("tau", 0) : null,
                Blocks = a.Has("blocks") ? a.Int("blocks", 0, 0) : null,
                TargetParams = a.Has("target-params") ? a.Real("target-params", 0.5) : null,
                Criterion = a.Str("criterion", "srinit") switch
                {
                    "srinit" => BlockCriterion.SrInit,
                    "random" => BlockCriterion.Random,
                    "l1" => BlockCriterion.L1,
                    var c => throw new LopperInputException($"--criterion must be srinit, random or l1, got '{c}'"),
                },
                EvalSamples = a.Int("eval-samples", 0, 0),
                DonorSeed = (ulong)a.Int("donor-seed", 1, 0),
                IncludeDownsampling = a.Flag("include-downsampling"),
            }),
            "spp" => new SppPruner(new SppOptions
            {
                TargetSpeedup = a.Has("target-speedup") ? a.Real("target-speedup", 2) : null,
                Ratios = a.Has("ratios") ? ParseRatios(a.Str("ratios")!) : null,
                Interval = a.Int("interval", 180, 1),
                A = a.Real("A", 0.05),
                U = a.Real("u", 0.25),
                PruneEpochs = a.Int("prune-epochs", 10, 1),
                RetrainEpochs = a.Int("retrain-epochs", 0, 0),
                ScaleSurvivors = a.Flag("scale-survivors"),
            }),
            "complexity-aware" => new ComplexityAwarePruner(ComplexityAwareFlags.Read(a), a.Int("gate-epochs", 1, 1)),
            "snacs" => SnacsFlags.Create(a),
            _ => throw new LopperInputException($"unknown pruning method '{name}' (known: l1, bn-slimming, magnitude, random, srinit, spp, complexity-aware, snacs)"),
        };
    }

    private static Dictionary<string, double> ParseRatios(string text)
    {
        var ratios = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = item.LastIndexOf('=');
            if (eq <= 0 || !double.TryParse(item[(eq + 1)..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double r))
                throw new LopperInputException($"--ratios: expected name=ratio, got '{item}'");
            if (!ratios.TryAdd(item[..eq], r)) throw new LopperInputException($"--ratios: {item[..eq]} given twice");
        }
        return ratios;
    }
}
