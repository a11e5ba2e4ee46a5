using System.Text.Json;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Data.Images;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Training;

namespace Lopper.Runs;

/// <summary>
/// A model folder (model.json, weights.safetensors, preprocessing.json, run.json) and what its run.json says about
/// how it was trained (dataset, read options, training config), so a derived run reads the same data without the
/// caller repeating it. See docs/run-folder.md.
/// </summary>
public sealed class RunFolder
{
    /// <summary>The run record's file name.</summary>
    public const string RunFile = "run.json";

    /// <summary>The folder.</summary>
    public required string Dir { get; init; }

    /// <summary>The loaded model.</summary>
    public required Model Model { get; init; }

    /// <summary>The data the run was trained on; null when its record names none (an imported model).</summary>
    public DataSpec? Data { get; init; }

    /// <summary>The run's training config (defaults when unknown).</summary>
    public required TrainConfig TrainConfig { get; init; }

    /// <summary>The folder's preprocessing record; null for a folder saved before it existed.</summary>
    public Preprocessing? Preprocessing { get; init; }

    /// <summary>The run record as read (empty when absent); a read-only view for fields the typed ones do not cover.</summary>
    public required JsonObject Record { get; init; }

    /// <summary>Test accuracy after the run's last epoch, when its record has one.</summary>
    public double? TestAccuracy => Record["test_accuracy"] is JsonValue v && v.TryGetValue(out double a) ? a : null;

    /// <summary>Epochs the run completed, when its record says.</summary>
    public int? EpochsCompleted => Record["epochs_completed"] is JsonValue v && v.TryGetValue(out int e) ? e : null;

    /// <summary>
    /// Loads <paramref name="dir"/>. <paramref name="decoder"/> decodes image-folder data (Lopper.Imaging's
    /// SkiaImageDecoder); without one, only the built-in and npy datasets can be read.
    /// </summary>
    public static RunFolder Load(string dir, IImageDecoder? decoder = null)
    {
        var model = ModelStore.Load(dir);
        var runPath = Path.Combine(dir, RunFile);
        var run = ReadRecord(runPath) ?? new JsonObject();
        var config = run["config"] is JsonNode c ? TrainConfig.FromJson(c, runPath) : new TrainConfig();
        string? dataset = Text(run, "dataset", runPath);
        return new RunFolder
        {
            Dir = dir,
            Model = model,
            Data = dataset is null ? null : new DataSpec { Dataset = dataset, Dir = Text(run, "data_dir", runPath), Options = DataSpec.OptionsFromRun(run, decoder) },
            TrainConfig = config,
            Record = run,
            Preprocessing = Preprocessing.TryLoad(dir),
        };
    }

    /// <summary>A run.json as an object, or null when the file does not exist; malformed files fail naming the file.</summary>
    public static JsonObject? ReadRecord(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                ?? throw new LopperInputException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new LopperInputException($"{path}: invalid JSON: {e.Message}");
        }
    }

    /// <summary>A string field of a run record, null when absent; any other type fails naming the file and field.</summary>
    public static string? Text(JsonObject run, string field, string path) => run[field] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => throw new LopperInputException($"{path}: field '{field}' must be a string"),
    };

    /// <summary>
    /// Reads <paramref name="data"/> (default: the data this run was trained on) and checks it fits the model's input
    /// shape, classes and preprocessing record.
    /// </summary>
    public DataSplits LoadData(DataSpec? data = null, Action<string>? notice = null)
    {
        data ??= Data ?? throw new LopperInputException($"{Dir}: its run record names no dataset; give one");
        var splits = data.Load(notice);
        var (train, _) = splits;
        if (!Model.Graph.InputShape.AsSpan().SequenceEqual(new[] { train.Channels, train.Height, train.Width }) || Model.Graph.Classes != train.ClassCount)
            throw new LopperInputException($"{Dir}: model takes {string.Join("x", Model.Graph.InputShape)} with {Model.Graph.Classes} classes; {data.Dataset} has {train.Channels}x{train.Height}x{train.Width} with {train.ClassCount}");
        if (Preprocessing is not null && Preprocessing.ClassNames.Length != Model.Graph.Classes)
            throw new LopperInputException($"{Dir}: {Preprocessing.FileName} names {Preprocessing.ClassNames.Length} classes, the model has {Model.Graph.Classes}");
        return splits;
    }

    /// <summary>
    /// The preprocessing record a run derived from this one carries: this folder's, or for a folder without one the
    /// record of today's defaults (the training split's statistics); null when neither exists (no record, no data).
    /// </summary>
    public Preprocessing? DerivedPreprocessing(Dataset? train, DataSpec? data)
    {
        var spec = data ?? Data;
        return Preprocessing ?? (train is null || spec is null ? null : spec.StatisticsPreprocessing(train));
    }

    /// <summary>Writes <paramref name="pre"/> into <paramref name="dir"/> and the model folders a run wrote below it (best/, compacted/).</summary>
    public static void SavePreprocessing(Preprocessing pre, string dir)
    {
        if (!Directory.Exists(dir)) return;
        pre.Save(dir);
        foreach (var sub in Directory.GetDirectories(dir))
            if (File.Exists(Path.Combine(sub, ModelStore.GraphFile))) pre.Save(sub);
    }

    /// <summary>
    /// Refuses an output folder that is, lies inside, or contains the source folder: writing there would overwrite
    /// or bury the source run that the new run is made from. The names say what the caller calls the two folders.
    /// </summary>
    public static void CheckOutside(string outDir, string from, string outName = "out", string fromName = "from")
    {
        string o = Normal(outDir), f = Normal(from);
        if (o == f) throw new LopperInputException($"{outName} {outDir} is the {fromName} folder; write the new run elsewhere, the source would be overwritten");
        if (o.StartsWith(f, StringComparison.Ordinal)) throw new LopperInputException($"{outName} {outDir} lies inside the {fromName} folder {from}; choose a folder outside it");
        if (f.StartsWith(o, StringComparison.Ordinal)) throw new LopperInputException($"{outName} {outDir} contains the {fromName} folder {from}; choose a folder outside it");
    }

    private static string Normal(string dir)
    {
        var full = Path.GetFullPath(dir);
        // A symbolic link to the source is the source.
        try
        {
            if (new DirectoryInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target) full = Path.GetFullPath(target.FullName);
        }
        catch (IOException) { }
        return Path.TrimEndingDirectorySeparator(full) + Path.DirectorySeparatorChar;
    }
}
