using System.Text.Json.Nodes;
using Lopper.Imaging;
using Lopper.Pruning;
using Lopper.Runs;

namespace Lopper.Cli.Commands;

/// <summary>`lopper finetune`: continues training any saved model (pruned or not) on its dataset: the prune pipeline with nothing pruned.</summary>
public static class FinetuneCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "json", "help" });
        if (a.Flag("help")) { Console.WriteLine("lopper finetune --from DIR --out DIR2 [--epochs N] [--lr F] [--batch-size N] [--seed N] [--dataset NAME] [--data DIR] [--threads N] [--json]"); return 0; }
        string from = a.Required("from");
        string outDir = a.Required("out");
        RunFolder.CheckOutside(outDir, from, "--out", "--from");
        bool json = a.Flag("json");
        CommonOptions.ApplyThreads(a);
        var source = RunFolder.Load(from, SkiaImageDecoder.Instance);
        var request = new PruneRequest
        {
            Source = source,
            Method = new KeepEverything(),
            Data = DataFlags.Override(a, source) ?? throw new LopperInputException($"{from} names no dataset: give --dataset NAME (and --data DIR)"),
            FinetuneEpochs = a.Int("epochs", 5, 1),
            Lr = a.Single("lr", 0.01, 0),
            BatchSize = a.Int("batch-size", 128, 1),
            Seed = a.Has("seed") ? (ulong)a.Int("seed", 0, 0) : null,
            // Nothing is pruned, so the model's statistics still fit its layers.
            BnRecalibrateBatches = 0,
            OutDir = outDir,
            Command = "lopper finetune " + string.Join(' ', raw),
        };
        a.EnsureAllUsed();
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
