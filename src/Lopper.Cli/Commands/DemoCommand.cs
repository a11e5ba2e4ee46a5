using System.CommandLine;
using System.Text.Json.Nodes;
using Lopper.Imaging;
using Lopper.Pruning;
using Lopper.Pruning.Baselines;
using Lopper.Pruning.Snacs;
using Lopper.Runs;
using Lopper.Training;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper demo`: the README's first command, written against the library's pipelines. Trains LeNet-5 on
/// Fashion-MNIST, prunes it with L1 filter pruning (half the MACs) and with SNACS (half the parameters), fine-tunes
/// both, reloads one from disk to show the saved folder evaluates the same, and prints the two side by side.
/// </summary>
public static class DemoCommand
{
    private static readonly Option<string?> Out = Flags.Text("--out", "DIR", "folder for the three run folders [default: runs/demo]");
    private static readonly Option<int> Epochs = Flags.Int("--epochs", "training epochs", 5, 1);
    private static readonly Option<int> FinetuneEpochs = Flags.Int("--finetune-epochs", "fine-tuning epochs after each pruning", 2, 0);
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<string?> Data = Flags.Text("--data", "DIR", "Fashion-MNIST folder (default: the installed or embedded one)");
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("demo", "train, prune (L1 and SNACS), fine-tune, reload and compare LeNet-5 on Fashion-MNIST") { Out, Epochs, FinetuneEpochs, Threads, Data, Json };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string outDir = p.GetValue(Out) ?? "runs/demo";
        int epochs = p.GetValue(Epochs);
        int finetune = p.GetValue(FinetuneEpochs);
        bool json = p.GetValue(Json);
        CommonOptions.ApplyThreads(p, Threads);
        var data = new DataSpec { Dir = p.GetValue(Data), Options = new Lopper.Data.DataOptions { Decoder = SkiaImageDecoder.Instance } };
        var cb = ConsoleCallbacks.Create();
        void Say(string s) { if (!json) Console.WriteLine(s); }

        string trainedDir = Path.Combine(outDir, "lenet5");
        Say($"== 1/4 train LeNet-5 on Fashion-MNIST for {epochs} epochs -> {trainedDir}");
        var trained = TrainPipeline.Run(new TrainRequest
        {
            ModelName = "lenet5", Data = data, Config = TrainConfig.DefaultsFor("lenet5") with { Epochs = epochs }, OutDir = trainedDir, Command = "lopper demo",
        }, cb);
        Say($"dense: test accuracy {PrunePipeline.Percent(trained.TestAccuracy)}");
        var source = RunFolder.Load(trainedDir, SkiaImageDecoder.Instance);

        // The baseline users compare against, and one of the published methods, on the same trained model.
        var runs = new (string Label, string Dir, IPruningMethod Method)[]
        {
            ("L1 filters, 50% of MACs", Path.Combine(outDir, "lenet5-l1"), new L1FilterPruner(new BudgetOptions { TargetMacs = 0.5 }.ToBudget())),
            ("SNACS, 50% of parameters", Path.Combine(outDir, "lenet5-snacs"), new SnacsPruner(new SnacsOptions { TargetParams = 0.5, ProbePerClass = 100 })),
        };
        var results = new List<(string Label, string Dir, PruneRecord Record)>();
        for (int i = 0; i < runs.Length; i++)
        {
            var (label, dir, method) = runs[i];
            Say($"\n== {i + 2}/4 prune: {label}, fine-tune {finetune} epoch{(finetune == 1 ? "" : "s")} -> {dir}");
            var result = PrunePipeline.Run(new PruneRequest { Source = source, Method = method, FinetuneEpochs = finetune, BnRecalibrateBatches = 20, OutDir = dir, Command = "lopper demo" }, cb);
            results.Add((label, dir, result.Record));
        }

        var (_, firstDir, first) = results[0];
        Say($"\n== 4/4 reload {firstDir} from disk and evaluate");
        var reloaded = RunFolder.Load(firstDir, SkiaImageDecoder.Instance);
        var (trainSet, testSet) = reloaded.LoadData();
        var (_, test) = DataSpec.Loaders(trainSet, testSet, reloaded.TrainConfig, reloaded.Preprocessing);
        double reloadedAccuracy = Evaluator.Evaluate(reloaded.Model, test).Accuracy;
        Say($"reloaded: test accuracy {reloadedAccuracy * 100:F2}% (the run recorded {PrunePipeline.Percent(first.AccuracyFinetuned)})");

        if (json)
        {
            var rows = new JsonArray();
            foreach (var (label, dir, r) in results)
                rows.Add(new JsonObject
                {
                    ["method"] = r.Method, ["label"] = label, ["out"] = Path.GetFullPath(dir), ["accuracy_pruned"] = r.AccuracyPruned, ["accuracy_finetuned"] = r.AccuracyFinetuned,
                    ["params_kept"] = r.ParamsKept, ["macs_kept"] = r.MacsKept, ["speedup"] = r.SpeedUp, ["latency_batch"] = r.LatencyBatch,
                });
            JsonOutput.Print(new JsonObject
            {
                ["model"] = "lenet5", ["dense_accuracy"] = trained.TestAccuracy, ["dense_out"] = Path.GetFullPath(trainedDir), ["epochs"] = epochs,
                ["finetune_epochs"] = finetune, ["reloaded_accuracy"] = reloadedAccuracy, ["pruned"] = rows,
            });
            return 0;
        }
        Console.WriteLine($"\nLeNet-5 on Fashion-MNIST, dense {PrunePipeline.Percent(trained.TestAccuracy)}; speed-up measured at batch {first.LatencyBatch}, {Lopper.Parallelism.Threads} thread(s)");
        Console.WriteLine($"{"method",-26} {"pruned",8} {"fine-tuned",10} {"params",7} {"MACs",7} {"speed-up",8}");
        foreach (var (label, _, r) in results)
            Console.WriteLine($"{label,-26} {Pct(r.AccuracyPruned),8} {Pct(r.AccuracyFinetuned),10} {Pct(r.ParamsKept),7} {Pct(r.MacsKept),7} {r.SpeedUp,7:F2}x");
        Console.WriteLine($"per-layer widths: lopper inspect --from {firstDir}; the runs' records: {firstDir}/run.json");
        return 0;
    }

    private static string Pct(double? v) => v is double x ? $"{x * 100:F1}%" : "-";
}
