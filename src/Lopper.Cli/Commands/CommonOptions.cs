using Lopper.Data;
using Lopper.Training;

namespace Lopper.Cli.Commands;

/// <summary>Flags and set-up shared by the commands that touch data or threads.</summary>
public static class CommonOptions
{
    /// <summary>Reads --threads (default and maximum: the machine's cores) and applies it.</summary>
    public static void ApplyThreads(Args a) => Parallelism.Threads = ReadThreads(a, Environment.ProcessorCount);

    /// <summary>--threads in [1, cores]: more threads than cores only make every parallel region wait on the scheduler.</summary>
    public static int ReadThreads(Args a, int fallback) => a.Int("threads", fallback, 1, Environment.ProcessorCount);

    /// <summary>Largest batch the commands accept: beyond it activations alone outgrow any machine this runs on.</summary>
    public const int MaxBatch = 4096;

    /// <summary>Largest buffer (elements) a benchmark may allocate: 2^28 floats, 1 GiB.</summary>
    public const long MaxBufferElements = 1L << 28;

    /// <summary>Refuses sizes whose buffers would overflow or exceed <see cref="MaxBufferElements"/> (products computed in 64 bits).</summary>
    public static void CheckBufferSize(string flags, params long[] elements)
    {
        foreach (long n in elements)
            if (n > MaxBufferElements)
                throw new LopperInputException($"{flags}: a buffer of {n} elements is larger than the limit of {MaxBufferElements} (1 GiB); use smaller sizes");
    }

    /// <summary>
    /// Refuses an output folder that is, lies inside, or contains the source folder: writing there would overwrite
    /// or bury the source run (its model, weights and checkpoints) that the new run is made from.
    /// </summary>
    public static void CheckOutFrom(string outDir, string from, string outFlag = "--out", string fromFlag = "--from")
    {
        string o = Normal(outDir), f = Normal(from);
        if (o == f) throw new LopperInputException($"{outFlag} {outDir} is the {fromFlag} folder; write the new run elsewhere, the source would be overwritten");
        if (o.StartsWith(f, StringComparison.Ordinal)) throw new LopperInputException($"{outFlag} {outDir} lies inside the {fromFlag} folder {from}; choose a folder outside it");
        if (f.StartsWith(o, StringComparison.Ordinal)) throw new LopperInputException($"{outFlag} {outDir} contains the {fromFlag} folder {from}; choose a folder outside it");
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
