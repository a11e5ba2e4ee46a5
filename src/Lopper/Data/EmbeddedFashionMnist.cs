using System.Security.Cryptography;

namespace Lopper.Data;

/// <summary>
/// The first 10,000 training and 2,000 test images of Fashion-MNIST (MIT licence, Zalando SE), shipped
/// inside the library so that the demo and the tests run on a machine without the full dataset.
/// The four IDX gzip files are embedded resources (source: data/fashion-mnist-subset in the repository);
/// they are written once to a cache folder named by their content hash and read from there by the
/// ordinary IDX reader, so the embedded copy goes through exactly the checks a user's files do.
/// </summary>
public static class EmbeddedFashionMnist
{
    /// <summary>The value <see cref="DataSplits.Source"/> takes for this subset (also written to run.json).</summary>
    public const string SourceName = "embedded fashion-mnist subset (10000 train, 2000 test)";

    /// <summary>The one-line notice printed when this subset stands in for the full dataset.</summary>
    public const string Notice =
        "using the Fashion-MNIST subset embedded in Lopper (10,000 training and 2,000 test images); " +
        "for the full 60,000 / 10,000: apt-get install dataset-fashion-mnist, or pass --data DIR";

    private static readonly string[] Files =
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];

    private const string ResourcePrefix = "Lopper.Data.FashionMnistSubset.";

    private static readonly Lock Gate = new();
    private static string? _directory;

    /// <summary>Loads the embedded train and test splits.</summary>
    public static DataSplits Load()
    {
        string dir = Directory();
        return new DataSplits(IdxReader.LoadFashionMnist(dir, true), IdxReader.LoadFashionMnist(dir, false), SourceName);
    }

    /// <summary>
    /// A folder holding the four files, written on first use under the user's cache (or the temp folder
    /// when that is not writable). Each file is written to a unique temporary name and renamed into place,
    /// so concurrent processes never see half a file.
    /// </summary>
    public static string Directory()
    {
        lock (Gate)
        {
            if (_directory is not null) return _directory;
            var contents = new byte[Files.Length][];
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            for (int i = 0; i < Files.Length; i++)
            {
                using var s = typeof(EmbeddedFashionMnist).Assembly.GetManifestResourceStream(ResourcePrefix + Files[i])
                    ?? throw new InvalidOperationException($"embedded resource {ResourcePrefix + Files[i]} is missing from the library build");
                contents[i] = new byte[s.Length];
                s.ReadExactly(contents[i]);
                hash.AppendData(contents[i]);
            }
            string key = Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
            string name = $"fashion-mnist-subset-{key}";
            foreach (string root in CacheRoots())
            {
                string dir = Path.Combine(root, name);
                try
                {
                    System.IO.Directory.CreateDirectory(dir);
                    for (int i = 0; i < Files.Length; i++)
                    {
                        string path = Path.Combine(dir, Files[i]);
                        if (File.Exists(path) && new FileInfo(path).Length == contents[i].Length) continue;
                        string tmp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
                        File.WriteAllBytes(tmp, contents[i]);
                        File.Move(tmp, path, overwrite: true);
                    }
                    return _directory = dir;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Not writable here (read-only home, full disk): try the next root.
                }
            }
            throw LopperInputException.ForOptions<Lopper.Runs.DataSpec>($"could not write the embedded Fashion-MNIST subset to {string.Join(" or ", CacheRoots())}; give Dir (a folder with the dataset)", "Dir");
        }
    }

    private static IEnumerable<string> CacheRoots()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (!string.IsNullOrEmpty(xdg)) yield return Path.Combine(xdg, "lopper");
        else if (!string.IsNullOrEmpty(home)) yield return Path.Combine(home, ".cache", "lopper");
        yield return Path.Combine(Path.GetTempPath(), "lopper");
    }
}
