using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Io;
using Lopper.Training;

namespace Lopper.Cli.Commands;

/// <summary>`lopper finetune`: continues training any saved model (pruned or not) on its dataset.</summary>
public static class FinetuneCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "json", "help" });
        if (a.Flag("help")) { Console.WriteLine("lopper finetune --from DIR --out DIR2 [--epochs N] [--lr F] [--batch-size N] [--seed N] [--dataset NAME] [--data DIR] [--threads N] [--json]"); return 0; }
        string from = a.Required("from");
        string outDir = a.Required("out");
        CommonOptions.CheckOutFrom(outDir, from);
        bool json = a.Flag("json");
        CommonOptions.ApplyThreads(a);
        var source = SourceRun.Load(from, a.Str("dataset"), a.Str("data"));
        var config = source.TrainConfig with
        {
            Epochs = a.Int("epochs", 5, 1),
            Lr = a.Single("lr", 0.01, 0),
            BatchSize = a.Int("batch-size", 128, 1),
            Seed = (ulong)a.Int("seed", (int)source.TrainConfig.Seed, 0),
            WarmupEpochs = 0,
            Schedule = Lopper.Optim.ScheduleKind.Cosine,
        };
        a.EnsureAllUsed();
        config.Validate(TrainConfig.FlagName);
        using var outLock = RunLock.Acquire(outDir);
        var (trainSet, testSet) = source.Data();
        var (train, test) = CommonOptions.Loaders(trainSet, testSet, config, source.Preprocessing);
        var sw = Stopwatch.StartNew();
        var run = RunInfo.Environment(config.Seed);
        run["command"] = "lopper finetune " + string.Join(' ', raw);
        run["source"] = Path.GetFullPath(from);
        run["model"] = source.Model.Graph.Name;
        run["dataset"] = source.Dataset;
        if (source.DataDir is not null) run["data_dir"] = source.DataDir;
        run["data_source"] = source.DataSource;
        source.Record(run);
        var (_, before) = Evaluator.Evaluate(source.Model, test);
        run["accuracy_before"] = before;
        var trainer = new Trainer(source.Model, config, train, test, outDir) { Progress = new ProgressBar(), RunRecord = run };
        trainer.AddHook(new EpochLogger(trainer));
        trainer.Run();
        source.SavePreprocessing(outDir, trainSet);
        double acc = (double)trainer.History[^1]!["test_accuracy"]!;
        var o = new JsonObject
        {
            ["model"] = source.Model.Graph.Name, ["accuracy_before"] = before, ["test_accuracy"] = acc,
            ["epochs"] = config.Epochs, ["seconds"] = sw.Elapsed.TotalSeconds, ["out"] = Path.GetFullPath(outDir),
        };
        if (json) JsonOutput.Print(o);
        else Console.WriteLine($"fine-tuned {config.Epochs} epochs: {before * 100:F2}% -> {acc * 100:F2}%; saved to {outDir}");
        return 0;
    }
}
