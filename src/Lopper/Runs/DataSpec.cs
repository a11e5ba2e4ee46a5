using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Data.Images;
using Lopper.Training;

namespace Lopper.Runs;

/// <summary>The data a run reads: a dataset name, an optional folder, and the user-data read options.</summary>
public sealed record DataSpec
{
    /// <summary>Dataset name (<see cref="DataCatalog.Names"/>).</summary>
    public string Dataset { get; init; } = "fashion-mnist";

    /// <summary>Dataset folder or file; null: the dataset's default location (or the embedded Fashion-MNIST subset).</summary>
    [Methods.Option("dataset folder or file", Name = "data")]
    public string? Dir { get; init; }

    /// <summary>Resize, crop, validation split and decoder for image folders and npy files.</summary>
    public DataOptions Options { get; init; } = new();

    private static int _saidEmbedded;

    /// <summary>
    /// Reads the splits. When the embedded Fashion-MNIST subset stands in for the full set, <paramref name="notice"/>
    /// hears so once per process (a demo's several steps should not repeat it).
    /// </summary>
    public DataSplits Load(Action<string>? notice = null)
    {
        var splits = DataCatalog.Resolve(Dataset, Dir, DataCatalog.DefaultRoot, Options);
        if (splits.IsEmbeddedSubset && Interlocked.Exchange(ref _saidEmbedded, 1) == 0) notice?.Invoke($"note: {EmbeddedFashionMnist.Notice}");
        return splits;
    }

    /// <summary>The preprocessing record of a run on this data normalised with <paramref name="train"/>'s own statistics (the default).</summary>
    public Preprocessing StatisticsPreprocessing(Dataset train)
    {
        var (mean, std) = train.ChannelStats();
        return Preprocessing.For(train, mean, std, Options.Resize, Options.Crop, Dataset);
    }

    /// <summary>run.json's "data_options" form of the read options.</summary>
    public static JsonObject OptionsToJson(DataOptions o) => new() { ["resize"] = o.Resize, ["crop"] = o.Crop, ["val_split"] = o.ValSplit, ["seed"] = o.Seed, ["random_resized_crop"] = o.RandomResizedCrop };

    /// <summary>The read options a run.json recorded (defaults for runs before they were recorded).</summary>
    public static DataOptions OptionsFromRun(JsonObject run, IImageDecoder? decoder) => run["data_options"] is JsonObject o
        ? new DataOptions
        {
            Resize = (int?)o["resize"] ?? 0,
            Crop = (int?)o["crop"] ?? 0,
            ValSplit = (double?)o["val_split"] ?? 0,
            Seed = (ulong?)o["seed"] ?? 0,
            RandomResizedCrop = (bool?)o["random_resized_crop"] ?? false,
            Decoder = decoder,
        }
        : new DataOptions { Decoder = decoder };

    /// <summary>
    /// Training loader (shuffled, augmented as configured, limited to <see cref="TrainConfig.TrainLimit"/>) and test
    /// loader (in order, no augmentation), normalised with <paramref name="pre"/>'s mean/std when given (the model
    /// folder's record), else the whole training split's.
    /// </summary>
    public static (DataLoader Train, DataLoader Test) Loaders(Dataset train, Dataset test, TrainConfig c, Preprocessing? pre = null)
    {
        // Statistics from the whole split, so eval (which never limits) normalises exactly as training did.
        var (mean, std) = pre is null ? train.ChannelStats() : (pre.Mean, pre.Std);
        if (c.TrainLimit > 0 && c.TrainLimit < train.Count) train = train.Slice(0, c.TrainLimit);
        var trainLoader = new DataLoader(train, c.BatchSize, c.Seed, shuffle: true, mean, std, cropPadding: c.CropPadding, flip: c.Flip);
        var testLoader = new DataLoader(test, 500, c.Seed, shuffle: false, mean, std);
        return (trainLoader, testLoader);
    }
}
