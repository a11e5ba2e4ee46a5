using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Data;
using Google.Protobuf;
using Lopper.Io;
using Lopper.Onnx.Export;
using Lopper.Onnx.Runtime;
using Lopper.Training;

using Lopper.Runs;

namespace Lopper.Cli.Commands;

/// <summary>`lopper eval`: accuracy and loss of a saved model on a dataset's test split.</summary>
public static class EvalCommand
{
    private static readonly Option<string> From = Flags.Required("--from", "DIR", "the model folder");
    private static readonly Option<string?> Dataset = Flags.Text("--dataset", "NAME", "dataset (default: the folder's run.json)", Lopper.Data.DataCatalog.Names);
    private static readonly Option<string?> Data = Flags.Text("--data", "DIR", "dataset folder (default: the folder's run.json)");
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<string> Runtime = Flags.Choice("--runtime", "lopper, or the folder's ONNX export in ONNX Runtime (what a deployment computes)", "lopper", "ort");
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("eval", "evaluate a saved model on its dataset's test split") { From, Dataset, Data, Threads, Runtime, Json };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string from = p.GetValue(From)!;
        bool json = p.GetValue(Json);
        string runtime = p.GetValue(Runtime)!;
        CommonOptions.ApplyThreads(p, Threads);
        // Dataset and folder default to what the model's run.json says it was trained on.
        var source = RunFolder.Load(from, Lopper.Imaging.SkiaImageDecoder.Instance);
        var data = DataFlags.Override(p.GetValue(Dataset), p.GetValue(Data), source);
        var model = source.Model;
        string? dataset = data?.Dataset;
        var splits = DataFlags.Load(source, data);
        var (trainSet, testSet) = splits;
        var (_, test) = DataSpec.Loaders(trainSet, testSet, new TrainConfig(), source.Preprocessing);
        var sw = Stopwatch.StartNew();
        double loss, acc;
        if (runtime == "lopper") (loss, acc) = Evaluator.Evaluate(model, test);
        else
        {
            // The exported model in ONNX Runtime: what a deployment of this folder computes.
            using var ort = new OrtModel(OnnxExporter.Export(model).ToByteArray(), Parallelism.Threads);
            (loss, acc, _) = OrtEvaluator.Evaluate(ort, test);
        }
        var o = new JsonObject
        {
            ["model"] = model.Graph.Name, ["runtime"] = runtime, ["dataset"] = dataset, ["data_source"] = splits.Source, ["samples"] = testSet.Count,
            ["test_accuracy"] = acc, ["test_loss"] = loss, ["seconds"] = sw.Elapsed.TotalSeconds,
            ["params"] = model.ParameterCount(), ["macs"] = model.Graph.Macs(), ["threads"] = Parallelism.Threads,
        };
        if (json) JsonOutput.Print(o);
        else Console.WriteLine($"{model.Graph.Name} on {dataset}{(runtime == "ort" ? " in ONNX Runtime" : "")}: accuracy {acc * 100:F2}% ({Math.Round(acc * testSet.Count)}/{testSet.Count}), loss {loss:F4} ({sw.Elapsed.TotalSeconds:F1}s)");
        return 0;
    }
}
