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
    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "json", "help" });
        if (a.Flag("help"))
        {
            Console.WriteLine("lopper eval --from DIR [--dataset NAME] [--data DIR] [--threads N] [--runtime lopper|ort] [--json]");
            return 0;
        }
        string from = a.Required("from");
        bool json = a.Flag("json");
        string runtime = a.Str("runtime", "lopper");
        if (runtime is not ("lopper" or "ort")) throw new LopperInputException($"--runtime must be lopper or ort, got '{runtime}'");
        CommonOptions.ApplyThreads(a);
        // Dataset and folder default to what the model's run.json says it was trained on.
        var source = RunFolder.Load(from, Lopper.Imaging.SkiaImageDecoder.Instance);
        var data = DataFlags.Override(a, source);
        a.EnsureAllUsed();
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
