using System.Globalization;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Onnx.Export;
using Lopper.Onnx.Import;
using Lopper.Structure;

namespace Lopper.Onnx;

/// <summary>
/// ONNX files to and from ordinary Lopper model folders. An imported folder holds model.json,
/// weights.safetensors, run.json (where it came from; no dataset, so no accuracy) and, when --mean and --std
/// were given, preprocessing.json (<see cref="Preprocessing"/>: the per-channel normalisation the model
/// expects on 0..1 pixels, (x - mean) / std). The exporter copies that and run.json's figures into metadata_props.
/// </summary>
public static class ModelFolders
{
    /// <summary>File name of the preprocessing record.</summary>
    public const string PreprocessingFile = Preprocessing.FileName;

    /// <summary>Imports <paramref name="onnxPath"/> into the model folder <paramref name="outDir"/>.</summary>
    public static ImportResult Import(string onnxPath, string outDir, float[]? mean, float[]? std, int[]? inputShape = null)
    {
        var proto = OnnxFile.Load(onnxPath);
        string name = Path.GetFileNameWithoutExtension(onnxPath);
        var result = OnnxImporter.Import(proto, onnxPath, name, inputShape);
        var model = result.Model;
        int c = model.Graph.InputShape[0];
        if (mean is not null && mean.Length != c) throw new LopperInputException($"--mean has {mean.Length} values, the model takes {c} channels");
        if (std is not null && std.Length != c) throw new LopperInputException($"--std has {std.Length} values, the model takes {c} channels");
        if (std is not null && std.Any(s => !(s > 0))) throw new LopperInputException("--std values must be positive");
        ModelStore.Save(model, outDir);
        var (prms, macs) = CostCounter.Totals(model.Graph);
        var run = RunInfo.Environment(0);
        run["command"] = "lopper import";
        run["imported_from"] = Path.GetFullPath(onnxPath);
        run["producer"] = result.Producer;
        run["opset"] = result.Opset;
        run["model"] = model.Graph.Name;
        run["params"] = prms;
        run["macs"] = macs;
        run["note"] = "imported model: no dataset is known, so no accuracy is recorded";
        AtomicFile.WriteText(Path.Combine(outDir, "run.json"), run.ToJsonString(new() { WriteIndented = true }));
        if ((mean is null) != (std is null)) throw new LopperInputException("--mean and --std go together: give both, or neither");
        if (mean is not null && std is not null)
        {
            if (c is not (1 or 3)) throw new LopperInputException($"--mean/--std: the model takes {c} channels; a preprocessing record covers grey (1) or RGB (3) images");
            new Preprocessing
            {
                InputShape = model.Graph.InputShape,
                ChannelOrder = c == 1 ? "grey" : "rgb",
                Mean = mean,
                Std = std,
                ClassNames = Enumerable.Range(0, model.Graph.Classes).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray(),
            }.Save(outDir);
        }
        return result;
    }

    /// <summary>Exports the model folder <paramref name="dir"/> to <paramref name="onnxPath"/> with its record in metadata_props; returns the metadata written.</summary>
    public static Dictionary<string, string> Export(string dir, string onnxPath)
    {
        var model = ModelStore.Load(dir);
        var meta = Metadata(dir, model);
        OnnxFile.Save(OnnxExporter.Export(model, meta), onnxPath);
        return meta;
    }

    /// <summary>
    /// The metadata_props of an exported folder: lopper.model, .params, .macs (counted on the graph), and from
    /// run.json .method and .accuracy (fine-tuned, else pruned, else trained; absent when none was measured),
    /// from preprocessing.json .input_shape, .mean and .std.
    /// </summary>
    public static Dictionary<string, string> Metadata(string dir, Model model)
    {
        var (prms, macs) = CostCounter.Totals(model.Graph);
        var meta = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["lopper.version"] = RunInfo.Version,
            ["lopper.model"] = model.Graph.Name,
            ["lopper.params"] = prms.ToString(CultureInfo.InvariantCulture),
            ["lopper.macs"] = macs.ToString(CultureInfo.InvariantCulture),
            ["lopper.input_shape"] = string.Join("x", model.Graph.InputShape),
        };
        var run = ReadJson(Path.Combine(dir, "run.json"));
        if (run is not null)
        {
            if (run["method"] is JsonValue m) meta["lopper.method"] = m.ToString();
            foreach (var key in new[] { "accuracy_finetuned", "accuracy_pruned", "test_accuracy", "final_test_accuracy", "accuracy" })
                if (run[key] is JsonValue v && v.TryGetValue(out double acc))
                {
                    meta["lopper.accuracy"] = acc.ToString("R", CultureInfo.InvariantCulture);
                    break;
                }
        }
        if (Preprocessing.TryLoad(dir) is { } pre)
        {
            meta["lopper.mean"] = string.Join(",", pre.Mean.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
            meta["lopper.std"] = string.Join(",", pre.Std.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
            meta["lopper.channel_order"] = pre.ChannelOrder;
            meta["lopper.class_names"] = string.Join(",", pre.ClassNames);
            if (pre.Resize > 0) meta["lopper.resize"] = pre.Resize.ToString(CultureInfo.InvariantCulture);
            if (pre.Crop > 0) meta["lopper.crop"] = pre.Crop.ToString(CultureInfo.InvariantCulture);
        }
        return meta;
    }

    private static JsonObject? ReadJson(string path)
    {
        if (!File.Exists(path)) return null;
        try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject; }
        catch (System.Text.Json.JsonException e) { throw new LopperInputException($"{path}: invalid JSON: {e.Message}"); }
    }
}
