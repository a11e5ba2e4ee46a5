using System.CommandLine;
using System.Text.Json.Nodes;
using Lopper.Imaging;
using Lopper.Pruning;
using Lopper.Runs;

namespace Lopper.Cli.Commands;

/// <summary>`lopper finetune`: continues training any saved model (pruned or not) on its dataset: the prune pipeline with nothing pruned.</summary>
public static class FinetuneCommand
{
    private static readonly Option<string> From = Flags.Required("--from", "DIR", "the model folder to continue training");
    private static readonly Option<string> Out = Flags.Required("--out", "DIR2", "the new run folder (not inside --from, not containing it)");
    private static readonly Option<int> Epochs = Flags.Int("--epochs", "epochs", 5, 1);
    private static readonly Option<float?> Lr = Flags.Single("--lr", "learning rate (cosine schedule) [default: 0.01]", 0);
    private static readonly Option<int> BatchSize = Flags.Int("--batch-size", "mini-batch size", 128, 1);
    private static readonly Option<int?> Seed = Flags.OptionalInt("--seed", "seed (default: the source run's)", 0);
    private static readonly Option<string?> Dataset = Flags.Text("--dataset", "NAME", "dataset (default: the folder's run.json)", Lopper.Data.DataCatalog.Names);
    private static readonly Option<string?> Data = Flags.Text("--data", "DIR", "dataset folder (default: the folder's run.json)");
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("finetune", "continue training any saved model (pruned or not) on its dataset")
        {
            From, Out, Epochs, Lr, BatchSize, Seed, Dataset, Data, Threads, Json,
        };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string from = p.GetValue(From)!;
        string outDir = p.GetValue(Out)!;
        RunFolder.CheckOutside(outDir, from, "--out", "--from");
        bool json = p.GetValue(Json);
        CommonOptions.ApplyThreads(p, Threads);
        var source = RunFolder.Load(from, SkiaImageDecoder.Instance);
        var request = new PruneRequest
        {
            Source = source,
            Method = new KeepEverything(),
            Data = DataFlags.Override(p.GetValue(Dataset), p.GetValue(Data), source) ?? throw new LopperInputException($"{from} names no dataset: give --dataset NAME (and --data DIR)"),
            FinetuneEpochs = p.GetValue(Epochs),
            Lr = p.GetValue(Lr) ?? 0.01f,
            BatchSize = p.GetValue(BatchSize),
            Seed = p.GetValue(Seed) is int seed ? (ulong)seed : null,
            // Nothing is pruned, so the model's statistics still fit its layers.
            BnRecalibrateBatches = 0,
            OutDir = outDir,
            Command = CommonOptions.CommandLine(p),
        };
        var r = PrunePipeline.Run(request, ConsoleCallbacks.Create()).Record;
        var o = new JsonObject
        {
            ["model"] = r.Model, ["accuracy_before"] = r.AccuracyBefore, ["test_accuracy"] = r.AccuracyFinetuned,
            ["epochs"] = r.FinetuneEpochs, ["seconds"] = r.Seconds["total"], ["out"] = Path.GetFullPath(outDir),
        };
        if (json) JsonOutput.Print(o);
        else Console.WriteLine($"fine-tuned {r.FinetuneEpochs} epoch{(r.FinetuneEpochs == 1 ? "" : "s")}: {PrunePipeline.Percent(r.AccuracyBefore)} -> {PrunePipeline.Percent(r.AccuracyFinetuned)}; saved to {outDir}");
        return 0;
    }

    /// <summary>Fine-tuning alone: the identity "method".</summary>
    private sealed class KeepEverything : IPruningMethod
    {
        public string Name => "none";
        public PruneOutcome Prune(PruneContext context) => new() { Pruned = context.Model };
    }
}
