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
        };
    }

    private static string? Text(JsonObject run, string field, string path) => run[field] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String => v.GetValue<string>(),
        _ => throw new LopperInputException($"{path}: field '{field}' must be a string"),
    };

    /// <summary>Train and test data for the model, checking that shapes and classes match.</summary>
    public (Dataset Train, Dataset Test) Data(string flagName = "--from")
    {
        var (train, test) = DataCatalog.Resolve(Dataset, DataDir);
        if (!Model.Graph.InputShape.AsSpan().SequenceEqual(new[] { train.Channels, train.Height, train.Width }) || Model.Graph.Classes != train.ClassCount)
            throw new LopperInputException($"{flagName}: model takes {string.Join("x", Model.Graph.InputShape)} with {Model.Graph.Classes} classes; {Dataset} has {train.Channels}x{train.Height}x{train.Width} with {train.ClassCount}");
        return (train, test);
    }
}
