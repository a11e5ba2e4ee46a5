namespace Lopper.Data;

/// <summary>Which CIFAR binary format a file is in.</summary>
public enum CifarKind
{
    /// <summary>CIFAR-10: records of 1 label byte + 3072 pixel bytes, 10 classes.</summary>
    Cifar10,

    /// <summary>CIFAR-100: records of a coarse and a fine label byte + 3072 pixel bytes; the fine label (100 classes) is used.</summary>
    Cifar100,
}

/// <summary>
/// Reads the "binary version" of CIFAR-10 (data_batch_1.bin .. data_batch_5.bin, test_batch.bin)
/// and CIFAR-100 (train.bin, test.bin). Each record's 3072 pixels are already 32x32 R, G, B planes,
/// i.e. CHW, so they are copied as they are.
/// </summary>
public static class CifarReader
{
    /// <summary>Pixel bytes per record: 3 planes of 32x32.</summary>
    public const int PixelBytes = 3 * 32 * 32;

    /// <summary>The ten CIFAR-10 class names, in label order.</summary>
    public static IReadOnlyList<string> Cifar10Classes { get; } =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Bytes per record for <paramref name="kind"/> (3073 or 3074).</summary>
    public static int RecordSize(CifarKind kind) => kind == CifarKind.Cifar10 ? PixelBytes + 1 : PixelBytes + 2;

    /// <summary>Number of classes for <paramref name="kind"/> (10 or 100).</summary>
    public static int ClassCount(CifarKind kind) => kind == CifarKind.Cifar10 ? 10 : 100;

    /// <summary>
    /// Loads a CIFAR-10 split from <paramref name="dir"/>, which holds the .bin files directly or has
    /// them in the archive's own cifar-10-batches-bin subdirectory.
    /// </summary>
    /// <param name="dir">Directory with data_batch_1.bin .. data_batch_5.bin and test_batch.bin.</param>
    /// <param name="train">True for the five training batches (50 000 images), false for test_batch.bin.</param>
    public static Dataset LoadCifar10(string dir, bool train)
    {
        string root = FindRoot(dir, "cifar-10-batches-bin", "test_batch.bin");
        string[] names = train
            ? ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"]
            : ["test_batch.bin"];
        var paths = new string[names.Length];
        for (int i = 0; i < names.Length; i++) paths[i] = Require(root, names[i], "CIFAR-10", dir);
        return ReadFiles(paths, CifarKind.Cifar10, "cifar10", train ? "train" : "test", Cifar10Classes);
    }

    /// <summary>
    /// Loads a CIFAR-100 split (fine labels) from <paramref name="dir"/>, which holds train.bin and
    /// test.bin directly or in the archive's own cifar-100-binary subdirectory. Class names come
    /// from fine_label_names.txt when it is there.
    /// </summary>
    /// <param name="dir">Directory with train.bin and test.bin.</param>
    /// <param name="train">True for train.bin (50 000 images), false for test.bin.</param>
    public static Dataset LoadCifar100(string dir, bool train)
    {
        string root = FindRoot(dir, "cifar-100-binary", "test.bin");
        string path = Require(root, train ? "train.bin" : "test.bin", "CIFAR-100", dir);
        return ReadFiles([path], CifarKind.Cifar100, "cifar100", train ? "train" : "test", ReadClassNames(Path.Combine(root, "fine_label_names.txt"), 100));
    }

    /// <summary>
    /// Reads and concatenates CIFAR binary files. Each file must be a whole, non-zero number of
    /// records and every label must be in range.
    /// </summary>
    /// <param name="paths">Files to read, in order.</param>
    /// <param name="kind">Their format.</param>
    /// <param name="name">Dataset name recorded in the result.</param>
    /// <param name="split">Split name recorded in the result.</param>
    /// <param name="classNames">Optional class names.</param>
    /// <exception cref="LopperInputException">A file is missing, unreadable, empty, truncated, in the other CIFAR format or has a label out of range.</exception>
    public static Dataset ReadFiles(IReadOnlyList<string> paths, CifarKind kind, string name, string split, IReadOnlyList<string>? classNames = null)
    {
        int recordSize = RecordSize(kind);
        var counts = new int[paths.Count];
        long total = 0;
        for (int f = 0; f < paths.Count; f++)
        {
            counts[f] = CheckLength(paths[f], kind);
            total += counts[f];
        }
        if (total * PixelBytes > Array.MaxLength)
            throw new LopperInputException($"{paths[0]}: {total} CIFAR images are more than one array can hold");

        var pixels = GC.AllocateUninitializedArray<byte>((int)(total * PixelBytes));
        var labels = new int[total];
        int classes = ClassCount(kind);
        // Reading a few hundred records at a time keeps memory at the final arrays plus one small buffer.
        var buffer = new byte[recordSize * 512];
        int next = 0;
        for (int f = 0; f < paths.Count; f++)
        {
            string path = paths[f];
            using var stream = OpenRead(path);
            int remaining = counts[f], fileRecord = 0;
            while (remaining > 0)
            {
                int batch = Math.Min(remaining, 512);
                int bytes = batch * recordSize;
                int got = ReadFully(stream, path, buffer.AsSpan(0, bytes));
                if (got < bytes)
                    throw new LopperInputException($"{path}: truncated: file shrank while reading ({fileRecord + got / recordSize} of {counts[f]} records)");
                for (int r = 0; r < batch; r++)
                {
                    int o = r * recordSize;
                    int label;
                    if (kind == CifarKind.Cifar10)
                    {
                        label = buffer[o];
                        if (label >= 10)
                            throw new LopperInputException($"{path}: label {label} in record {fileRecord + r} is out of range (CIFAR-10 labels are 0..9)");
                    }
                    else
                    {
                        int coarse = buffer[o];
                        label = buffer[o + 1];
                        if (coarse >= 20)
                            throw new LopperInputException($"{path}: coarse label {coarse} in record {fileRecord + r} is out of range (CIFAR-100 coarse labels are 0..19)");
                        if (label >= 100)
                            throw new LopperInputException($"{path}: fine label {label} in record {fileRecord + r} is out of range (CIFAR-100 fine labels are 0..99)");
                    }
                    labels[next] = label;
                    buffer.AsSpan(o + recordSize - PixelBytes, PixelBytes).CopyTo(pixels.AsSpan(next * PixelBytes, PixelBytes));
                    next++;
                }
                fileRecord += batch;
                remaining -= batch;
            }
        }
        return new Dataset(name, split, pixels, labels, 3, 32, 32, classes, classNames);
    }

    /// <summary>Checks the file is a whole number of records and returns how many.</summary>
    private static int CheckLength(string path, CifarKind kind)
    {
        long length;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new LopperInputException($"{path}: file not found");
            length = info.Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LopperInputException($"{path}: cannot read: {e.Message}", e);
        }

        int recordSize = RecordSize(kind);
        string format = kind == CifarKind.Cifar10 ? "CIFAR-10" : "CIFAR-100";
        if (length == 0) throw new LopperInputException($"{path}: wrong size: file is empty, expected {recordSize}-byte {format} records");
        if (length % recordSize != 0)
        {
            // A file of the other format is the likely mix-up (e.g. --dataset cifar10 --data pointing at CIFAR-100), so say so.
            var other = kind == CifarKind.Cifar10 ? CifarKind.Cifar100 : CifarKind.Cifar10;
            int otherSize = RecordSize(other);
            if (length % otherSize == 0)
                throw new LopperInputException(
                    $"{path}: wrong size: {length} bytes is not a whole number of {recordSize}-byte {format} records but is {length / otherSize} {otherSize}-byte {(other == CifarKind.Cifar10 ? "CIFAR-10" : "CIFAR-100")} records; wrong dataset?");
            throw new LopperInputException(
                $"{path}: truncated: {length} bytes is {length / recordSize} whole {recordSize}-byte {format} records plus {length % recordSize} bytes");
        }
        long records = length / recordSize;
        if (records > int.MaxValue) throw new LopperInputException($"{path}: wrong size: {records} records is too many");
        return (int)records;
    }

    private static string FindRoot(string dir, string archiveSubdir, string probe)
    {
        if (File.Exists(Path.Combine(dir, probe))) return dir;
        string sub = Path.Combine(dir, archiveSubdir);
        return File.Exists(Path.Combine(sub, probe)) ? sub : dir;
    }

    private static string Require(string root, string file, string format, string dir)
    {
        string path = Path.Combine(root, file);
        if (File.Exists(path)) return path;
        if (!Directory.Exists(dir)) throw new LopperInputException($"{dir}: directory not found (expected {format} binary files)");
        throw new LopperInputException($"{root}: missing {file} ({format} binary version)");
    }

    private static string[]? ReadClassNames(string path, int count)
    {
        if (!File.Exists(path)) return null;
        var names = new List<string>(count);
        foreach (var line in File.ReadLines(path))
        {
            string t = line.Trim();
            if (t.Length > 0) names.Add(t);
        }
        // A names file that does not match is only cosmetic; fall back to numbers rather than refuse the data.
        return names.Count == count ? names.ToArray() : null;
    }

    private static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new LopperInputException($"{path}: file not found");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LopperInputException($"{path}: cannot open: {e.Message}", e);
        }
    }

    private static int ReadFully(Stream stream, string path, Span<byte> buffer)
    {
        try
        {
            return stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (IOException e)
        {
            throw new LopperInputException($"{path}: cannot read: {e.Message}", e);
        }
    }
}
