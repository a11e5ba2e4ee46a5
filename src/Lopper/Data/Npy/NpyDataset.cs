using System.Buffers.Binary;
using System.IO.Compression;
using Lopper.Data.Images;

namespace Lopper.Data.Npy;

/// <summary>
/// Image classification data from NumPy arrays: <c>x_train</c>, <c>y_train</c> and <c>x_val</c>/<c>y_val</c> (or
/// <c>x_test</c>/<c>y_test</c>) as .npy files in a folder, or as the arrays of one .npz file (Keras' layout).
/// Images are N x H x W or N x H x W x C (C = 1 or 3), uint8 (0..255) or float32 (0..1); labels are N integers
/// (int64, int32 or uint8). Without validation arrays, <see cref="DataOptions.ValSplit"/> holds part of the
/// training set out. Class names come from classes.txt beside the data (one per line) when present; otherwise
/// the class count is the largest training label plus one.
/// </summary>
public static class NpyDataset
{
    /// <summary>Loads the splits from a folder of .npy files or from a .npz file.</summary>
    /// <exception cref="LopperInputException">Missing arrays, unsupported dtypes or shapes, mismatched counts, a label out of range or an empty split; the message names the file.</exception>
    public static DataSplits Load(string path, DataOptions options)
    {
        if (options.Resize > 0 || options.Crop > 0) throw LopperInputException.ForOptions<DataOptions>("Resize and Crop apply to the imagefolder dataset only (NumPy arrays are used at their size)", "Resize", "Crop");
        if (options.ValSplit < 0 || options.ValSplit >= 1) throw LopperInputException.ForOptions<DataOptions>($"ValSplit must be in [0, 1), got {options.ValSplit}", "ValSplit");
        Dictionary<string, NpyArray> arrays;
        string dir;
        if (File.Exists(path) && path.EndsWith(".npz", StringComparison.OrdinalIgnoreCase))
        {
            arrays = ReadNpz(path);
            dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        }
        else if (Directory.Exists(path))
        {
            dir = path;
            var npz = Directory.GetFiles(path, "*.npz");
            if (npz.Length == 1 && !File.Exists(Path.Combine(path, "x_train.npy"))) arrays = ReadNpz(npz[0]);
            else
            {
                arrays = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
                foreach (var name in new[] { "x_train", "y_train", "x_val", "y_val", "x_test", "y_test" })
                {
                    string f = Path.Combine(path, name + ".npy");
                    if (File.Exists(f)) arrays[name] = NpyFormat.ReadFile(f);
                }
            }
        }
        else throw LopperInputException.ForOptions<Lopper.Runs.DataSpec>($"Dir {path}: neither a folder nor a .npz file", "Dir");

        var xTrain = Need(arrays, "x_train", path);
        var yTrain = Need(arrays, "y_train", path);
        string? valKey = arrays.ContainsKey("x_val") ? "val" : arrays.ContainsKey("x_test") ? "test" : null;
        string? classFile = Path.Combine(dir, "classes.txt");
        string[]? names = File.Exists(classFile) ? File.ReadAllLines(classFile).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray() : null;
        if (names is { Length: 0 }) throw new LopperInputException($"{classFile}: no class names");

        var trainLabels = Labels(yTrain);
        if (trainLabels.Length == 0) throw new LopperInputException($"{yTrain.Source}: the training split is empty");
        int classCount = names?.Length ?? (trainLabels.Length == 0 ? 0 : trainLabels.Max() + 1);
        var train = Build(xTrain, yTrain, trainLabels, "train", classCount, names);
        Dataset val;
        if (valKey is not null)
        {
            if (options.ValSplit > 0) throw LopperInputException.ForOptions<DataOptions>($"ValSplit: {path} already has x_{valKey}/y_{valKey}; drop ValSplit", "ValSplit");
            var yVal = Need(arrays, "y_" + valKey, path);
            val = Build(arrays["x_" + valKey], yVal, Labels(yVal), "val", classCount, names);
            if (val.Channels != train.Channels || val.Height != train.Height || val.Width != train.Width)
                throw new LopperInputException($"{arrays["x_" + valKey].Source}: images are {val.Channels}x{val.Height}x{val.Width}, x_train has {train.Channels}x{train.Height}x{train.Width}");
        }
        else
        {
            if (options.ValSplit <= 0) throw LopperInputException.ForOptions<DataOptions>($"{path}: no x_val/y_val (or x_test/y_test); add them or pass ValSplit F", "ValSplit");
            (train, val) = ImageFolder.StratifiedSplit(train, options.ValSplit, options.Seed, path);
        }
        if (train.Count == 0) throw new LopperInputException($"{xTrain.Source}: the training split is empty");
        if (val.Count == 0) throw new LopperInputException($"{path}: the validation split is empty");
        return new DataSplits(train, val, Path.GetFullPath(path));
    }

    private static NpyArray Need(Dictionary<string, NpyArray> arrays, string name, string path)
        => arrays.TryGetValue(name, out var a) ? a : throw new LopperInputException($"{path}: array {name} not found (expected x_train, y_train and x_val/y_val or x_test/y_test)");

    private static Dictionary<string, NpyArray> ReadNpz(string path)
    {
        var result = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
        try
        {
            using var zip = ZipFile.OpenRead(path);
            foreach (var entry in zip.Entries)
            {
                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal)) continue;
                string name = entry.FullName[..^4];
                using var s = entry.Open();
                result[name] = NpyFormat.Read(s, entry.Length, $"{path}:{entry.FullName}");
            }
        }
        catch (InvalidDataException e)
        {
            throw new LopperInputException($"{path}: not a readable .npz (zip) file ({e.Message})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LopperInputException($"{path}: cannot read ({e.Message})");
        }
        return result;
    }

    private static int[] Labels(NpyArray y)
    {
        if (y.Shape.Length != 1) throw new LopperInputException($"{y.Source}: labels must be one-dimensional (N), got shape ({string.Join(", ", y.Shape)})");
        int n = y.Shape[0];
        var labels = new int[n];
        var d = y.Data.AsSpan();
        for (int i = 0; i < n; i++)
        {
            long v = y.Descr switch
            {
                "|u1" or "<u1" => d[i],
                "<i4" => BinaryPrimitives.ReadInt32LittleEndian(d[(4 * i)..]),
                "<i8" => BinaryPrimitives.ReadInt64LittleEndian(d[(8 * i)..]),
                _ => throw new LopperInputException($"{y.Source}: labels must be int64, int32 or uint8, got '{y.Descr}'"),
            };
            if (v < 0 || v > int.MaxValue) throw new LopperInputException($"{y.Source}: label {v} at index {i} is out of range (labels are 0 .. classes-1)");
            labels[i] = (int)v;
        }
        return labels;
    }

    private static Dataset Build(NpyArray x, NpyArray y, int[] labels, string split, int classCount, string[]? names)
    {
        var s = x.Shape;
        if (s.Length is not (3 or 4) || (s.Length == 4 && s[3] is not (1 or 3)))
            throw new LopperInputException($"{x.Source}: images must be N x H x W or N x H x W x C with C = 1 or 3, got shape ({string.Join(", ", s)})");
        if (s[0] != labels.Length)
            throw new LopperInputException($"{x.Source}: {s[0]} images but {y.Source} has {labels.Length} labels");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classCount)
                throw new LopperInputException($"{y.Source}: label {labels[i]} at index {i} is out of range for {classCount} classes" +
                    (names is null ? " (the training labels' maximum + 1; add classes.txt to name more)" : " (classes.txt)"));
        if (x.Descr is not ("|u1" or "<u1" or "<f4"))
            throw new LopperInputException($"{x.Source}: images must be uint8 (0..255) or float32 (0..1), got '{x.Descr}'");
        int n = s[0], h = s[1], w = s[2], c = s.Length == 4 ? s[3] : 1;
        if (h < 1 || w < 1) throw new LopperInputException($"{x.Source}: images have no pixels ({h}x{w})");
        int plane = h * w, imageSize = c * plane;
        var pixels = new byte[(long)n * imageSize];
        bool isFloat = x.Descr == "<f4";
        var src = x.Data.AsSpan();
        for (int i = 0; i < n; i++)
        {
            for (int p = 0; p < plane; p++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    long si = ((long)i * plane + p) * c + ch;
                    byte v;
                    if (!isFloat) v = src[(int)si];
                    else
                    {
                        float f = BinaryPrimitives.ReadSingleLittleEndian(src[(int)(4 * si)..]);
                        if (!(f >= 0f && f <= 1f))
                            throw new LopperInputException($"{x.Source}: float32 pixel {f} of image {i} is outside [0, 1]");
                        v = (byte)MathF.Round(f * 255f);
                    }
                    pixels[(long)i * imageSize + ch * plane + p] = v;
                }
            }
        }
        return new Dataset("npy", split, pixels, labels, c, h, w, classCount, names);
    }
}
