using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Training;

namespace Lopper.Cli.Commands;

/// <summary>
/// A model folder plus what its run.json says about how it was trained (dataset, augmentation), so
/// prune and finetune continue on the same data without the user repeating flags.
/// </summary>
public sealed class SourceRun
{
    /// <summary>The loaded model.</summary>
    public required Model Model { get; init; }
    /// <summary>Dataset name.</summary>
    public required string Dataset { get; init; }
    /// <summary>Dataset folder override, if any.</summary>
    public string? DataDir { get; init; }
    /// <summary>The source run's training config (defaults when unknown).</summary>
    public required TrainConfig TrainConfig { get; init; }
    /// <summary>The source run.json (empty when absent).</summary>
    public required JsonObject Run { get; init; }

    /// <summary>Resize/crop/val-split settings the source run read its data with (run.json "data_options").</summary>
    public DataOptions DataOptions { get; init; } = new();

    /// <summary>The folder's preprocessing.json; null for a folder saved before it existed (today's defaults apply).</summary>
    public Preprocessing? Preprocessing { get; private set; }

    /// <summary>Adds what a derived run needs to read the same data again ("data_options") to its run.json.</summary>
    public void Record(JsonObject run) => run["data_options"] = Lopper.Runs.DataSpec.OptionsToJson(DataOptions);

    /// <summary>
    /// Writes the source's preprocessing.json into <paramref name="dir"/> and its model subfolders; for a source
    /// without one, the record of today's defaults (the training split's statistics) so the new folder has one.
    /// </summary>
    public void SavePreprocessing(string dir, Dataset? train)
    {
        if (!Directory.Exists(dir)) return;
        var pre = Preprocessing;
        if (pre is null)
        {
            // Pruned without data and without a record: there is nothing to write.
            if (train is null) return;
            var (mean, std) = train.ChannelStats();
            pre = Lopper.Data.Preprocessing.For(train, mean, std, DataOptions.Resize, DataOptions.Crop, Dataset);
        }
        Lopper.Runs.RunFolder.SavePreprocessing(pre, dir);
    }

    /// <summary>Loads --from DIR, honouring --dataset/--data overrides.</summary>
    public static SourceRun Load(string dir, string? dataset, string? dataDir)
    {
        var model = ModelStore.Load(dir);
        var runPath = Path.Combine(dir, "run.json");
        JsonObject run = new();
        if (File.Exists(runPath))
        {
            try { run = JsonNode.Parse(File.ReadAllText(runPath), documentOptions: new System.Text.Json.JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject ?? throw new LopperInputException($"{runPath}: not a JSON object"); }
            catch (System.Text.Json.JsonException e) { throw new LopperInputException($"{runPath}: invalid JSON: {e.Message}"); }
        }
        var config = run["config"] is JsonNode c ? TrainConfig.FromJson(c, runPath) : new TrainConfig();
        return new SourceRun
        {
            Model = model,
            Dataset = dataset ?? Text(run, "dataset", runPath) ?? "fashion-mnist",
            DataDir = dataDir ?? Text(run, "data_dir", runPath),
            TrainConfig = config,
            Run = run,
            DataOptions = Lopper.Runs.DataSpec.OptionsFromRun(run, Lopper.Imaging.SkiaImageDecoder.Instance),
            Preprocessing = DataFlags.LoadPreprocessing(dir),
        };
    }

    /// <summary>A string field of a run.json, null when absent; any other type fails naming the file and field.</summary>
    internal static string? Text(JsonObject run, string field, string path) => run[field] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String => v.GetValue<string>(),
        _ => throw new LopperInputException($"{path}: field '{field}' must be a string"),
    };

    /// <summary>Where <see cref="Data"/> read the data from (a directory or the embedded subset); null before it is called.</summary>
    public string? DataSource { get; private set; }

    /// <summary>Train and test data for the model, checking that shapes and classes match.</summary>
    public (Dataset Train, Dataset Test) Data(string flagName = "--from")
    {
        var splits = CommonOptions.LoadData(Dataset, DataDir, DataOptions);
        var (train, test) = splits;
        DataSource = splits.Source;
        if (!Model.Graph.InputShape.AsSpan().SequenceEqual(new[] { train.Channels, train.Height, train.Width }) || Model.Graph.Classes != train.ClassCount)
            throw new LopperInputException($"{flagName}: model takes {string.Join("x", Model.Graph.InputShape)} with {Model.Graph.Classes} classes; {Dataset} has {train.Channels}x{train.Height}x{train.Width} with {train.ClassCount}");
        if (Preprocessing is not null && Preprocessing.ClassNames.Length != Model.Graph.Classes)
            throw new LopperInputException($"{flagName}: {Lopper.Data.Preprocessing.FileName} names {Preprocessing.ClassNames.Length} classes, the model has {Model.Graph.Classes}");
        return (train, test);
    }
}
