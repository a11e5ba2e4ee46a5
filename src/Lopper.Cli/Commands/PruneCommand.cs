using Lopper.Methods;
using Lopper.Runs;
using Lopper.Imaging;

namespace Lopper.Cli.Commands;

/// <summary>`lopper prune METHOD`: a thin adapter over <see cref="PrunePipeline"/>, with the method made by the registry from its flags.</summary>
public static class PruneCommand
{
    private static readonly MethodRegistry Registry = PruningMethods.Registry;

    private static string Usage => $"""
        lopper prune METHOD --from DIR --out DIR2 [--finetune-epochs N] [--json]
          methods and their options (the record each method is configured with; library errors name the same options):
        {MethodFlags.Usage(Registry)}
          fine-tune: --finetune-epochs N (default 0) --lr F (default 0.01) --batch-size N (default 128) --seed N (default: the source's)
                    --bn-recalibrate N (re-estimate batch-norm statistics on N training batches, at most one
                    epoch, right after pruning, before "accuracy pruned" and fine-tuning; default {PruneRequest.DefaultBnRecalibrateBatches};
                    0 keeps the dense model's statistics; skipped for models without batch-norm or without data)
                    --train-limit N (first N training images; default: the source run's, 0 = all)
          other:    --dataset NAME --data DIR --threads N --latency-batch N (default 128)
          no data:  without --dataset/--data and with no dataset in the folder's run.json (an imported model),
                    l1, random and magnitude prune without data; accuracy is then not measured (recorded as null)
        """;

    /// <summary>The switches any method declares (flags without a value), so they parse before the method is known.</summary>
    private static readonly HashSet<string> Switches = ["json", "help", .. Registry.Methods.SelectMany(m => MethodFlags.Switches(m.Options))];

    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, Switches);
        if (a.Flag("help") || a.Positional.Count == 0) { Console.WriteLine(Usage); return a.Positional.Count == 0 && !a.Has("help") ? 2 : 0; }
        var info = Registry.Get(a.Positional[0]);
        string from = a.Required("from");
        string outDir = a.Required("out");
        RunFolder.CheckOutside(outDir, from, "--out", "--from");
        bool json = a.Flag("json");
        CommonOptions.ApplyThreads(a);
        var method = info.Create(MethodFlags.Read(a, info.Options));
        var source = RunFolder.Load(from, SkiaImageDecoder.Instance);
        var request = new PruneRequest
        {
            Source = source,
            Method = method,
            Data = DataFlags.Override(a, source),
            FinetuneEpochs = a.Int("finetune-epochs", 0, 0),
            Lr = a.Single("lr", 0.01, 0),
            BatchSize = a.Int("batch-size", 128, 1),
            Seed = a.Has("seed") ? (ulong)a.Int("seed", 0, 0) : null,
            TrainLimit = a.Has("train-limit") ? a.Int("train-limit", 0, 0) : null,
            BnRecalibrateBatches = a.Int("bn-recalibrate", PruneRequest.DefaultBnRecalibrateBatches, 0),
            LatencyBatch = a.Int("latency-batch", 128, 1),
            OutDir = outDir,
            Command = "lopper prune " + string.Join(' ', raw),
        };
        a.EnsureAllUsed(positionalAllowed: 1);
        if (request.Data is null && info.NeedsData)
            throw new LopperInputException($"prune {info.Name} needs data and {from} names no dataset: give --dataset NAME (and --data DIR); {string.Join(", ", Registry.Methods.Where(m => !m.NeedsData).Select(m => m.Name))} prune without data");
        if (request.Data is null && request.FinetuneEpochs > 0)
            throw new LopperInputException($"fine-tuning needs data and {from} names no dataset: give --dataset NAME (and --data DIR), or --finetune-epochs 0");
        if (request.Data is null && a.Has("bn-recalibrate") && request.BnRecalibrateBatches > 0)
            throw new LopperInputException($"--bn-recalibrate needs data and {from} names no dataset: give --dataset NAME (and --data DIR)");
        var result = PrunePipeline.Run(request, ConsoleCallbacks.Create());
        var r = result.Record;
        if (json)
        {
            var o = r.ToJson();
            o.Remove("history");
            o.Remove("details");
            o["out"] = Path.GetFullPath(outDir);
            JsonOutput.Print(o);
        }
        else
        {
            // With no fine-tuning there is no fine-tuned accuracy to show (run.json keeps the pruned one in its place).
            string after = r.FinetuneEpochs > 0 ? $" -> {PrunePipeline.Percent(r.AccuracyFinetuned)} (fine-tuned {r.FinetuneEpochs} epoch{(r.FinetuneEpochs == 1 ? "" : "s")})" : ", no fine-tuning";
            Console.WriteLine($"{r.Method}: accuracy {PrunePipeline.Percent(r.AccuracyBefore)} -> {PrunePipeline.Percent(r.AccuracyPruned)} (pruned){after}; " +
                $"params {100 * r.ParamsKept:F1}%, MACs {100 * r.MacsKept:F1}%, latency {r.LatencyMsBefore:F1} -> {r.LatencyMsAfter:F1} ms; saved to {outDir}");
        }
        return 0;
    }
}
