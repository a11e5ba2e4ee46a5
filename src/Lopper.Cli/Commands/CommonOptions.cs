using Lopper.Data;
using Lopper.Training;

namespace Lopper.Cli.Commands;

/// <summary>Flags and set-up shared by the commands that touch data or threads.</summary>
public static class CommonOptions
{
    /// <summary>Reads --threads (default: all cores) and applies it.</summary>
    public static void ApplyThreads(Args a) => Parallelism.Threads = a.Int("threads", Environment.ProcessorCount, 1);

    private static bool _saidEmbedded;

    /// <summary>
    /// Resolves --dataset/--data; when the embedded Fashion-MNIST subset stands in for the full set, says so
    /// on stderr (once per process, so the demo's steps do not repeat it).
    /// </summary>
    public static DataSplits LoadData(string dataset, string? dataDir, DataOptions? options = null)
    {
        var splits = DataCatalog.Resolve(dataset, dataDir, DataCatalog.DefaultRoot, options);
        if (splits.IsEmbeddedSubset && !_saidEmbedded)
        {
            _saidEmbedded = true;
            Console.Error.WriteLine($"note: {EmbeddedFashionMnist.Notice}");
        }
        return splits;
    }

    /// <summary>
    /// Training loader (shuffled, augmented as configured) and test loader (in order, no augmentation), normalised
    /// with <paramref name="pre"/>'s mean/std when given (the model folder's record), else the training split's.
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
