using System.CommandLine;
using Lopper.Methods;
using Lopper.Runs;
using Lopper.Imaging;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper prune METHOD`: a thin adapter over <see cref="PrunePipeline"/>. Each registered method is a subcommand
/// whose flags are made from its options record; the flags every method shares are declared here once.
/// </summary>
public static class PruneCommand
{
    private static readonly MethodRegistry Registry = PruningMethods.Registry;

    private static readonly Option<string> From = Flags.Required("--from", "DIR", "the trained run folder (or imported model) to prune");
    private static readonly Option<string> Out = Flags.Required("--out", "DIR2", "the new run folder (not inside --from, not containing it)");
    private static readonly Option<int> FinetuneEpochs = Flags.Int("--finetune-epochs", "fine-tuning epochs after pruning", 0, 0);
    private static readonly Option<float?> Lr = Flags.Single("--lr", "fine-tuning learning rate [default: 0.01]", 0);
    private static readonly Option<int> BatchSize = Flags.Int("--batch-size", "fine-tuning mini-batch size", 128, 1);
    private static readonly Option<int?> Seed = Flags.OptionalInt("--seed", "seed of fine-tuning and of seeded methods (default: the source run's)", 0);
    private static readonly Option<int> BnRecalibrate = Flags.Int("--bn-recalibrate",
        "re-estimate batch-norm statistics on N training batches (at most one epoch) right after pruning, before \"accuracy pruned\" " +
        "and fine-tuning; 0 keeps the dense model's statistics; skipped for models without batch-norm or without data",
        PruneRequest.DefaultBnRecalibrateBatches, 0);
    private static readonly Option<int?> TrainLimit = Flags.OptionalInt("--train-limit", "fine-tune on the first N training images (0 = all; default: the source run's)", 0);
    private static readonly Option<string?> Dataset = Flags.Text("--dataset", "NAME", "dataset (default: the source run's)", Lopper.Data.DataCatalog.Names);
    private static readonly Option<string?> Data = Flags.Text("--data", "DIR", "dataset folder (default: the source run's)");
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<int> LatencyBatch = Flags.Int("--latency-batch", "batch size the latency is measured at", 128, 1);
    private static readonly Option<bool> Resume = Flags.Switch("--resume",
        "continue a fine-tune interrupted in --out from its last checkpoint (the pruning is redone; a checkpoint of another pruning is not used)");
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command, with one subcommand per registered method.</summary>
    public static Command Create()
    {
        var prune = new Command("prune",
            "prune a trained model, fine-tune it and measure the gain (one subcommand per method)");
        foreach (var o in new Option[] { From, Out, FinetuneEpochs, Lr, BatchSize, Seed, BnRecalibrate, TrainLimit, Dataset, Data, Threads, LatencyBatch, Resume, Json })
        {
            o.Recursive = true;
            prune.Options.Add(o);
        }
        foreach (var info in Registry.Methods) prune.Subcommands.Add(MethodCommand(info));
        ParseErrors.SubcommandNoun[prune] = "pruning method";
        return prune;
    }

    private static Command MethodCommand(PruningMethodInfo info)
    {
        var flags = new MethodFlags(info.Options);
        var c = new Command(info.Name, info.Summary + (info.NeedsData ? "" : "; runs without data"));
        foreach (var o in flags.Symbols) c.Options.Add(o);
        c.SetAction(p => Run(p, info, flags));
        return c;
    }

    private static int Run(ParseResult p, PruningMethodInfo info, MethodFlags flags)
    {
        string from = p.GetValue(From)!;
        string outDir = p.GetValue(Out)!;
        RunFolder.CheckOutside(outDir, from, "--out", "--from");
        bool json = p.GetValue(Json);
        CommonOptions.ApplyThreads(p, Threads);
        var method = info.Create(flags.Read(p));
        var source = RunFolder.Load(from, SkiaImageDecoder.Instance);
        var request = new PruneRequest
        {
            Source = source,
            Method = method,
            Data = DataFlags.Override(p.GetValue(Dataset), p.GetValue(Data), source),
            FinetuneEpochs = p.GetValue(FinetuneEpochs),
            Lr = p.GetValue(Lr) ?? 0.01f,
            BatchSize = p.GetValue(BatchSize),
            Seed = p.GetValue(Seed) is int seed ? (ulong)seed : null,
            TrainLimit = p.GetValue(TrainLimit),
            BnRecalibrateBatches = p.GetValue(BnRecalibrate),
            LatencyBatch = p.GetValue(LatencyBatch),
            OutDir = outDir,
            Resume = p.GetValue(Resume),
            Command = CommonOptions.CommandLine(p),
        };
        if (request.Data is null && info.NeedsData)
            throw new LopperInputException($"prune {info.Name} needs data and {from} names no dataset: give --dataset NAME (and --data DIR); {string.Join(", ", Registry.Methods.Where(m => !m.NeedsData).Select(m => m.Name))} prune without data");
        if (request.Data is null && request.FinetuneEpochs > 0)
            throw new LopperInputException($"fine-tuning needs data and {from} names no dataset: give --dataset NAME (and --data DIR), or --finetune-epochs 0");
        if (request.Data is null && p.Given(BnRecalibrate) && request.BnRecalibrateBatches > 0)
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
