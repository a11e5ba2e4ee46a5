namespace Lopper.Data;

/// <summary>
/// Maps a --dataset name and an optional --data directory to the train and test splits.
/// Fashion-MNIST defaults to where the Debian package dataset-fashion-mnist installs it
/// (/usr/share/datasets/fashion-mnist, four .gz IDX files); the others default to
/// /usr/share/datasets/NAME.
/// </summary>
public static class DataCatalog
{
    /// <summary>Directory under which each dataset is looked for when no --data is given.</summary>
    public const string DefaultRoot = "/usr/share/datasets";

    /// <summary>The dataset names <see cref="Resolve"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fashion-mnist", "mnist", "cifar10", "cifar100"];

    /// <summary>The directory used for <paramref name="dataset"/> when no --data is given, e.g. /usr/share/datasets/fashion-mnist.</summary>
    public static string DefaultDirectory(string dataset) => Path.Combine(DefaultRoot, Canonical(dataset));

    /// <summary>
    /// Loads the train and test splits of <paramref name="dataset"/> from <paramref name="dataDir"/>,
    /// or from <see cref="DefaultDirectory"/> when it is null.
    /// </summary>
    /// <param name="dataset">"fashion-mnist", "mnist" (IDX files), "cifar10" or "cifar100" (binary version); case-insensitive.</param>
    /// <param name="dataDir">The --data directory, or null for the default.</param>
    /// <exception cref="LopperInputException">Unknown name, missing directory or file, or a malformed file.</exception>
    public static (Dataset Train, Dataset Test) Resolve(string dataset, string? dataDir)
    {
        string name = Canonical(dataset);
        string dir;
        if (dataDir is null)
        {
            dir = DefaultDirectory(name);
            if (!Directory.Exists(dir))
                throw new LopperInputException(name == "fashion-mnist"
                    ? $"fashion-mnist not found under {dir}: install it with `apt-get install dataset-fashion-mnist` or pass --data DIR"
                    : $"{name} not found under {dir}: pass --data DIR (a directory with {Expected(name)})");
        }
        else
        {
            dir = dataDir;
            if (!Directory.Exists(dir)) throw new LopperInputException($"--data {dir}: directory not found");
        }

        return name switch
        {
            "fashion-mnist" => (IdxReader.LoadFashionMnist(dir, true), IdxReader.LoadFashionMnist(dir, false)),
            "mnist" => (IdxReader.LoadMnistLike(dir, true), IdxReader.LoadMnistLike(dir, false)),
            "cifar10" => (CifarReader.LoadCifar10(dir, true), CifarReader.LoadCifar10(dir, false)),
            _ => (CifarReader.LoadCifar100(dir, true), CifarReader.LoadCifar100(dir, false)),
        };
    }

    private static string Canonical(string dataset)
    {
        string name = dataset.Trim().ToLowerInvariant();
        foreach (var known in Names)
            if (known == name) return known;
        throw new LopperInputException($"--dataset: unknown dataset '{dataset}'; known: {string.Join(", ", Names)}");
    }

    private static string Expected(string name) => name switch
    {
        "mnist" => "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, optionally .gz",
        "cifar10" => "data_batch_1.bin .. data_batch_5.bin and test_batch.bin",
        _ => "train.bin and test.bin",
    };
}
