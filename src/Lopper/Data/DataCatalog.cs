namespace Lopper.Data;

/// <summary>
/// Maps a --dataset name and an optional --data directory to the train and test splits.
/// Fashion-MNIST defaults to where the Debian package dataset-fashion-mnist installs it
/// (/usr/share/datasets/fashion-mnist, four .gz IDX files) and, when that is not installed, to the
/// subset embedded in the library (<see cref="EmbeddedFashionMnist"/>); the others default to
/// /usr/share/datasets/NAME.
/// </summary>
public static class DataCatalog
{
    /// <summary>Directory under which each dataset is looked for when no --data is given.</summary>
    public const string DefaultRoot = "/usr/share/datasets";

    /// <summary>The dataset names <see cref="Resolve"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fashion-mnist", "mnist", "cifar10", "cifar100", "imagefolder", "npy"];

    /// <summary>The directory used for <paramref name="dataset"/> when no --data is given, e.g. /usr/share/datasets/fashion-mnist.</summary>
    public static string DefaultDirectory(string dataset) => Path.Combine(DefaultRoot, Canonical(dataset));

    /// <summary>
    /// Loads the train and test splits of <paramref name="dataset"/> from <paramref name="dataDir"/>,
    /// or from <see cref="DefaultDirectory"/> when it is null.
    /// </summary>
    /// <param name="dataset">"fashion-mnist", "mnist" (IDX files), "cifar10" or "cifar100" (binary version); case-insensitive.</param>
    /// <param name="dataDir">The --data directory, or null for the default.</param>
    /// <param name="defaultRoot">Where default directories are looked for (<see cref="DefaultRoot"/> unless a test says otherwise).</param>
    /// <param name="options">Settings of the user-data readers ("imagefolder": <see cref="Images.ImageFolder"/>, "npy": <see cref="Npy.NpyDataset"/>), which need --data.</param>
    /// <returns>The splits and their source; <see cref="DataSplits.IsEmbeddedSubset"/> tells a caller to say so to the user.</returns>
    /// <exception cref="LopperInputException">Unknown name, missing directory or file, or a malformed file.</exception>
    public static DataSplits Resolve(string dataset, string? dataDir, string defaultRoot = DefaultRoot, DataOptions? options = null)
    {
        string name = Canonical(dataset);
        if (name is "imagefolder" or "npy")
        {
            if (dataDir is null) throw LopperInputException.ForOptions<Lopper.Runs.DataSpec>($"Dataset {name} needs Dir (its folder)", "Dataset", "Dir");
            return name == "imagefolder" ? Images.ImageFolder.Load(dataDir, options ?? new DataOptions()) : Npy.NpyDataset.Load(dataDir, options ?? new DataOptions());
        }
        if (options is not null && (options.Resize > 0 || options.Crop > 0 || options.ValSplit > 0))
            throw LopperInputException.ForOptions<DataOptions>($"Resize, Crop and ValSplit apply to the imagefolder and npy datasets, not {name}", "Resize", "Crop", "ValSplit");
        string dir;
        if (dataDir is null)
        {
            dir = Path.Combine(defaultRoot, name);
            if (!Directory.Exists(dir))
            {
                if (name == "fashion-mnist") return EmbeddedFashionMnist.Load();
                throw LopperInputException.ForOptions<Lopper.Runs.DataSpec>($"{name} not found under {dir}: give Dir (a directory with {Expected(name)})", "Dir");
            }
        }
        else
        {
            dir = dataDir;
            if (!Directory.Exists(dir)) throw LopperInputException.ForOptions<Lopper.Runs.DataSpec>($"Dir {dir}: directory not found", "Dir");
        }

        var (train, test) = name switch
        {
            "fashion-mnist" => (IdxReader.LoadFashionMnist(dir, true), IdxReader.LoadFashionMnist(dir, false)),
            "mnist" => (IdxReader.LoadMnistLike(dir, true), IdxReader.LoadMnistLike(dir, false)),
            "cifar10" => (CifarReader.LoadCifar10(dir, true), CifarReader.LoadCifar10(dir, false)),
            _ => (CifarReader.LoadCifar100(dir, true), CifarReader.LoadCifar100(dir, false)),
        };
        return new DataSplits(train, test, Path.GetFullPath(dir));
    }

    private static string Canonical(string dataset)
    {
        string name = dataset.Trim().ToLowerInvariant();
        foreach (var known in Names)
            if (known == name) return known;
        throw LopperInputException.ForOptions<Lopper.Runs.DataSpec>($"Dataset: unknown dataset '{dataset}'; known: {string.Join(", ", Names)}", "Dataset");
    }

    private static string Expected(string name) => name switch
    {
        "mnist" => "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz",
        "cifar10" => "data_batch_1.bin .. data_batch_5.bin and test_batch.bin",
        _ => "train.bin and test.bin",
    };
}
