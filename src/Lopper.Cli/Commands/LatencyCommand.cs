using System.CommandLine;
using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Google.Protobuf;
using Lopper.Measurement;
using Lopper.Onnx.Export;
using Lopper.Onnx.Runtime;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper latency`: inference time of a saved model and, for a pruned folder, of the dense model it came
/// from (run.json's "source", or the folder --dense names), measured in the same process in alternation, pass for pass.
/// </summary>
public static class LatencyCommand
{
    private static readonly Option<string> From = Flags.Required("--from", "DIR", "the model folder (a pruned one is timed against its dense source)");
    private static readonly Option<string?> Dense = Flags.Text("--dense", "DIR", "the model folder to time it against (default: the dense source its run.json names)");
    private static readonly Option<int[]?> Batch = Flags.Ints("--batch", "N,N,...", $"batch sizes, each in [1, {CommonOptions.MaxBatch}] [default: 1,128]");
    private static readonly Option<int> Repeats = Flags.Int("--repeats", "least timed repeats per batch size", 10, 1);
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<string> Runtime = Flags.Choice("--runtime", "time Lopper, or both models' ONNX exports in ONNX Runtime", "lopper", "ort");
    private static readonly Option<bool> Layers = Flags.Switch("--layers",
        "also time every layer with multiply-adds beside the same layer of the dense model (its median of at least 20 passes): milliseconds, time and multiply-add ratios, and the kernel it ran");
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("latency", "inference latency of a saved model (and of its dense source)") { From, Dense, Batch, Repeats, Threads, Runtime, Layers, Json };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string from = p.GetValue(From)!;
        var batches = p.ValueOrNull(Batch) ?? [1, 128];
        int repeats = p.GetValue(Repeats);
        bool json = p.GetValue(Json);
        string runtime = p.GetValue(Runtime)!;
        bool layers = p.GetValue(Layers);
        if (layers && runtime != "lopper") throw new LopperInputException("--layers times Lopper's own layers; it does not go with --runtime ort");
        CommonOptions.ApplyThreads(p, Threads);
        if (batches.Length == 0 || batches.Any(b => b < 1 || b > CommonOptions.MaxBatch)) throw new LopperInputException($"--batch needs sizes in [1, {CommonOptions.MaxBatch}], e.g. 1,128");
        var model = ModelStore.Load(from);
        var pre = DataFlags.LoadPreprocessing(from);
        long largest = model.Graph.Nodes.Max(n => (long)Lopper.Tensors.Tensor.Numel(n.OutputShape));
        foreach (int b in batches) CommonOptions.CheckBufferSize($"--batch {b}", largest * b);
        Model? dense = null;
        string? densePath = null;
        if (p.GetValue(Dense) is { } named)
        {
            if (!Directory.Exists(named)) throw new LopperInputException($"--dense: {named} is not a folder");
            densePath = named;
        }
        else
        {
            var runPath = Path.Combine(from, "run.json");
            if (File.Exists(runPath) && ReadSource(runPath) is { } s && Directory.Exists(s)) densePath = s;
        }
        if (densePath is not null)
        {
            dense = ModelStore.Load(densePath);
            if (!dense.Graph.InputShape.AsSpan().SequenceEqual(model.Graph.InputShape))
                throw new LopperInputException($"--dense: {densePath} takes input {string.Join('x', dense.Graph.InputShape)}, {from} takes {string.Join('x', model.Graph.InputShape)}");
        }
        var results = new JsonArray();
        foreach (int b in batches)
        {
            var r = new JsonObject { ["batch"] = b };
            LatencyResult c;
            LatencyResult? d = null;
            double speedup = 0;
            if (dense is not null && runtime == "lopper")
            {
                // In alternation, pass for pass: on a shared machine a slow spell then slows both models alike.
                var pair = Latency.MeasurePair(dense, model, b, minPairs: repeats);
                (d, c, speedup) = (pair.First, pair.Second, pair.MedianRatio);
            }
            else
            {
                c = Measure(model, b, repeats, runtime);
                if (dense is not null)
                {
                    d = Measure(dense, b, repeats, runtime);
                    speedup = d.MedianMs / c.MedianMs;
                }
            }
            r["compacted"] = Describe(c);
            if (d is not null)
            {
                r["dense"] = Describe(d);
                r["speedup"] = speedup;
            }
            results.Add(r);
            if (!json)
                Console.WriteLine($"batch {b}: {c.MedianMs:F2} ms (IQR {c.IqrMs:F2})" + (d is null ? "" : $"; dense {d.MedianMs:F2} ms; speedup {speedup:F2}x"));
            if (layers)
            {
                var rows = LayerRows(LayerProfile.Compare(model, dense, b, passes: Math.Max(repeats, 20)));
                r["layers"] = new JsonArray(rows.Select(x => (JsonNode)x).ToArray());
                if (!json) TextTable.WriteRows(Console.Out, rows);
            }
        }
        if (json)
            JsonOutput.Print(new JsonObject
            {
                ["model"] = model.Graph.Name, ["runtime"] = runtime, ["from"] = Path.GetFullPath(from), ["dense_from"] = densePath is null ? null : Path.GetFullPath(densePath),
                ["threads"] = Parallelism.Threads, ["results"] = results,
                ["input_shape"] = new JsonArray(model.Graph.InputShape.Select(d => (JsonNode)d).ToArray()),
                ["preprocessing"] = pre is null ? null : new JsonObject { ["channel_order"] = pre.ChannelOrder, ["resize"] = pre.Resize, ["crop"] = pre.Crop, ["classes"] = pre.ClassNames.Length },
            });
        return 0;
    }

    // ONNX Runtime times the exported model (what a user deploys), with as many intra-op threads as Lopper uses.
    private static LatencyResult Measure(Model model, int batch, int repeats, string runtime)
    {
        if (runtime == "lopper") return Latency.Measure(model, batch, minRepeats: repeats);
        using var ort = new OrtModel(OnnxExporter.Export(model).ToByteArray(), Parallelism.Threads);
        return ort.Measure(model.Graph.InputShape, batch, repeats);
    }

    private static string? ReadSource(string runPath)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(runPath), documentOptions: new System.Text.Json.JsonDocumentOptions { AllowDuplicateProperties = false })?["source"] is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.String ? v.GetValue<string>() : null;
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new LopperInputException($"{runPath}: invalid JSON: {e.Message}");
        }
    }

    // One record a layer (time and multiply-add ratios against the dense layer where both have it), then the layers' sums.
    private static List<JsonObject> LayerRows(IReadOnlyList<LayerTime> layers)
    {
        static double? Ratio(double? a, double? b) => a is double x && b is double y && y > 0 ? Math.Round(x / y, 3) : null;
        static double? Ms(double? ms) => ms is double v ? Math.Round(v, 3) : null;
        var rows = layers.Select(l => new JsonObject
        {
            ["layer"] = l.Node, ["op"] = l.Op, ["dense_ms"] = Ms(l.ReferenceMs), ["ms"] = Ms(l.Ms),
            ["time_ratio"] = Ratio(l.Ms, l.ReferenceMs), ["macs_ratio"] = Ratio(l.Macs, l.ReferenceMacs), ["kernel"] = l.Kernel ?? (l.Ms is null ? "(removed)" : null),
        }).ToList();
        bool reference = layers.Any(l => l.ReferenceMs is not null);
        double ms = layers.Sum(l => l.Ms ?? 0), denseMs = layers.Sum(l => l.ReferenceMs ?? 0);
        long macs = layers.Sum(l => l.Macs), denseMacs = layers.Sum(l => l.ReferenceMacs);
        rows.Add(new JsonObject
        {
            ["layer"] = "(all these layers)", ["op"] = null, ["dense_ms"] = reference ? Ms(denseMs) : null, ["ms"] = Ms(ms),
            ["time_ratio"] = reference ? Ratio(ms, denseMs) : null, ["macs_ratio"] = reference ? Ratio(macs, denseMacs) : null, ["kernel"] = null,
        });
        return rows;
    }

    private static JsonObject Describe(LatencyResult r) => new()
    {
        ["median_ms"] = r.MedianMs, ["q1_ms"] = r.Q1Ms, ["q3_ms"] = r.Q3Ms, ["iqr_ms"] = r.IqrMs, ["repeats"] = r.Repeats,
    };
}
