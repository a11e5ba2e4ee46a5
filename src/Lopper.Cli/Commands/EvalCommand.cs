using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Io;
using Lopper.Training;

namespace Lopper.Cli.Commands;

/// <summary>`lopper eval`: accuracy and loss of a saved model on a dataset's test split.</summary>
public static class EvalCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "json", "help" });
        if (a.Flag("help"))
        {
            Console.WriteLine("lopper eval --from DIR [--dataset NAME] [--data DIR] [--threads N] [--json]");
            return 0;
        }
        string from = a.Required("from");
        bool json = a.Flag("json");
        CommonOptions.ApplyThreads(a);
        // Dataset and folder default to what the model's run.json says it was trained on.
        var source = SourceRun.Load(from, a.Str("dataset"), a.Str("data"));
        a.EnsureAllUsed();
        var model = source.Model;
        string dataset = source.Dataset;
        var (trainSet, testSet) = source.Data();
        var (_, test) = CommonOptions.Loaders(trainSet, testSet, new TrainConfig());
        var sw = Stopwatch.StartNew();
        var (loss, acc) = Evaluator.Evaluate(model, test);
        var o = new JsonObject
        {
            ["model"] = model.Graph.Name, ["dataset"] = dataset, ["samples"] = testSet.Count,
            ["test_accuracy"] = acc, ["test_loss"] = loss, ["seconds"] = sw.Elapsed.TotalSeconds,
            ["params"] = model.ParameterCount(), ["macs"] = model.Graph.Macs(), ["threads"] = Parallelism.Threads,
        };
        if (json) JsonOutput.Print(o);
        else Console.WriteLine($"{model.Graph.Name} on {dataset}: accuracy {acc * 100:F2}%, loss {loss:F4} ({testSet.Count} images, {sw.Elapsed.TotalSeconds:F1}s)");
        return 0;
    }
}
