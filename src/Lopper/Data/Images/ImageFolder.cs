using Lopper.Tensors;

namespace Lopper.Data.Images;

/// <summary>
/// Reads a folder of images laid out as torchvision's <c>ImageFolder</c>: <c>DIR/train/&lt;class&gt;/*</c> and
/// <c>DIR/val/&lt;class&gt;/*</c> (or <c>DIR/test</c>), or one <c>DIR/&lt;class&gt;/*</c> tree split by
/// <see cref="DataOptions.ValSplit"/>. Classes are the folder names in ordinal order; PNG and JPEG files
/// (.png, .jpg, .jpeg, any case) directly inside a class folder are read, names starting with '.' skipped.
/// </summary>
/// <remarks>
/// Images are ordered by file name across classes (ties by class), not class by class: a dataset written out
/// with its index as the file name (00000.png, ...) reads back in its original order, so a run on the folder
/// repeats a run on the source files exactly. Training shuffles anyway.
/// If every image is greyscale the data has one channel, otherwise three (grey images are replicated).
/// </remarks>
public static class ImageFolder
{
    private const ulong SplitDomain = 0x56414C53504C4954UL; // "VALSPLIT"

    /// <summary>The file extensions read (compared case-insensitively).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg"];

    /// <summary>Loads the train and validation splits of <paramref name="dir"/>.</summary>
    /// <exception cref="LopperInputException">Missing folders, a class without images, an unreadable image, mixed sizes without resize/crop, or an empty split; the message names the folder or file.</exception>
    public static DataSplits Load(string dir, DataOptions options)
    {
        var decoder = options.Decoder ?? throw new LopperInputException("the imagefolder dataset needs an image decoder (the CLI provides one; library callers pass Lopper.Imaging.SkiaImageDecoder in DataOptions.Decoder)");
        if (!Directory.Exists(dir)) throw LopperInputException.ForOptions<Lopper.Runs.DataSpec>($"Dir {dir}: directory not found", "Dir");
        if (options.ValSplit < 0 || options.ValSplit >= 1) throw LopperInputException.ForOptions<DataOptions>($"ValSplit must be in [0, 1), got {options.ValSplit}", "ValSplit");
        string trainDir = Path.Combine(dir, "train");
        if (Directory.Exists(trainDir))
        {
            var classes = ClassFolders(trainDir);
            string? valDir = Directory.Exists(Path.Combine(dir, "val")) ? Path.Combine(dir, "val") : Directory.Exists(Path.Combine(dir, "test")) ? Path.Combine(dir, "test") : null;
            var trainFiles = Files(trainDir, classes);
            if (valDir is null)
            {
                if (options.ValSplit <= 0) throw LopperInputException.ForOptions<DataOptions>($"{dir}: has train/ but no val/ (or test/) folder; add one or pass ValSplit F", "ValSplit");
                var all = Decode(dir, "train", trainFiles, classes, options);
                var (tr, va) = StratifiedSplit(all, options.ValSplit, options.Seed, dir);
                return new DataSplits(tr, va, Path.GetFullPath(dir));
            }
            if (options.ValSplit > 0) throw LopperInputException.ForOptions<DataOptions>($"ValSplit: {dir} already has a validation folder ({Path.GetFileName(valDir)}/); drop ValSplit", "ValSplit");
            var valClasses = ClassFolders(valDir);
            if (!valClasses.SequenceEqual(classes))
                throw new LopperInputException($"{valDir}: class folders ({string.Join(", ", valClasses)}) differ from {trainDir} ({string.Join(", ", classes)})");
            var valFiles = Files(valDir, classes);
            var train = Decode(dir, "train", trainFiles, classes, options);
            var val = Decode(dir, "val", valFiles, classes, options);
            // One split all grey, the other with colour: the data is RGB, as it would be read as one folder.
            if (train.Channels == 1 && val.Channels == 3) train = ToRgb(train);
            if (val.Channels == 1 && train.Channels == 3) val = ToRgb(val);
            if (val.Channels != train.Channels || val.Height != train.Height || val.Width != train.Width)
                throw LopperInputException.ForOptions<DataOptions>($"{valDir}: images are {val.Channels}x{val.Height}x{val.Width}, {trainDir} has {train.Channels}x{train.Height}x{train.Width}; pass Resize N Crop N", "Resize", "Crop");
            return new DataSplits(train, val, Path.GetFullPath(dir));
        }
        {
            var classes = ClassFolders(dir);
            if (options.ValSplit <= 0)
                throw LopperInputException.ForOptions<DataOptions>($"{dir}: no train/ folder; either arrange train/<class>/ and val/<class>/ or pass ValSplit F to hold out part of {dir}/<class>/", "ValSplit");
            var files = Files(dir, classes);
            var all = Decode(dir, "all", files, classes, options);
            var (tr, va) = StratifiedSplit(all, options.ValSplit, options.Seed, dir);
            return new DataSplits(tr, va, Path.GetFullPath(dir));
        }

        static string[] ClassFolders(string root)
        {
            var names = Directory.GetDirectories(root).Select(Path.GetFileName).Where(n => n is not null && !n.StartsWith('.')).Select(n => n!).ToArray();
            Array.Sort(names, StringComparer.Ordinal);
            if (names.Length == 0) throw new LopperInputException($"{root}: no class folders (expected {root}/<class>/<image>.png)");
            return names;
        }
    }

    /// <summary>True for a file name the reader takes as an image.</summary>
    public static bool IsImageFile(string path)
    {
        var fileName = Path.GetFileName(path);
        if (fileName.StartsWith('.')) return false;
        var ext = Path.GetExtension(fileName);
        foreach (var e in Extensions) if (string.Equals(e, ext, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    private static (string Path, int Label)[] Files(string root, string[] classes)
    {
        var list = new List<(string, int)>();
        for (int c = 0; c < classes.Length; c++)
        {
            string folder = Path.Combine(root, classes[c]);
            int before = list.Count;
            foreach (var f in Directory.EnumerateFiles(folder))
                if (IsImageFile(f)) list.Add((f, c));
            if (list.Count == before) throw new LopperInputException($"{folder}: class folder has no images ({string.Join(", ", Extensions)})");
        }
        var arr = list.ToArray();
        Array.Sort(arr, (a, b) =>
        {
            int k = string.CompareOrdinal(Path.GetFileName(a.Item1), Path.GetFileName(b.Item1));
            return k != 0 ? k : a.Item2.CompareTo(b.Item2);
        });
        return arr;
    }

    private static Dataset Decode(string root, string split, (string Path, int Label)[] files, string[] classes, DataOptions o)
    {
        var paths = files.Select(f => f.Path).ToArray();
        string? cachePath = null;
        if (o.UseCache)
        {
            string key = DecodedCache.Key(root, paths, $"resize={o.Resize};crop={o.Crop};classes={string.Join('/', classes)};labels={string.Join(',', files.Select(f => f.Label))}");
            cachePath = Path.Combine(o.CacheDir ?? Path.Combine(root, ".lopper-cache"), $"{split}-{key}.u8");
            var cached = DecodedCache.TryOpen(cachePath, "imagefolder", split, classes)
                ?? (o.CacheDir is null ? DecodedCache.TryOpen(TempCachePath(cachePath), "imagefolder", split, classes) : null);
            if (cached is not null) return cached;
        }

        var images = new DecodedImage[files.Length];
        var errors = new string?[files.Length];
        var decoder = o.Decoder!;
        int chunks = Math.Max(1, Math.Min(files.Length, Parallelism.Threads * 4));
        Parallelism.For(chunks, k =>
        {
            int end = (int)((long)files.Length * (k + 1) / chunks);
            for (int i = (int)((long)files.Length * k / chunks); i < end; i++)
            {
                try
                {
                    images[i] = ImageTransform.ResizeCrop(decoder.Decode(files[i].Path), o.Resize, o.Crop, decoder, files[i].Path);
                }
                catch (LopperInputException e) { errors[i] = e.Message; }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // A decoder's own exception is still a bad file, not a Lopper bug: one line naming it.
                    errors[i] = $"{files[i].Path}: cannot decode image ({e.GetType().Name}: {e.Message})";
                }
            }
        });
        for (int i = 0; i < errors.Length; i++)
            if (errors[i] is not null) throw new LopperInputException(errors[i]!);

        var first = images[0];
        int channels = 1;
        for (int i = 0; i < images.Length; i++)
        {
            var im = images[i];
            if (im.Width != first.Width || im.Height != first.Height)
                throw new LopperInputException($"{files[i].Path}: {im.Width}x{im.Height}, but {files[0].Path} is {first.Width}x{first.Height}; " +
                    (o.Resize > 0 && o.Crop == 0 ? "add --crop N to make them square" : "pass --resize N --crop N to bring them to one size"));
            if (im.Channels == 3) channels = 3;
        }
        int imageSize = channels * first.Width * first.Height;
        if ((long)imageSize * images.Length > Array.MaxLength)
            throw LopperInputException.ForOptions<DataOptions>($"{root}: {images.Length} images of {channels}x{first.Height}x{first.Width} do not fit in memory at once; pass a smaller Resize/Crop", "Resize", "Crop");
        var pixels = new byte[imageSize * images.Length];
        var labels = new int[images.Length];
        for (int i = 0; i < images.Length; i++)
        {
            ImageTransform.ToChw(images[i], channels, pixels.AsSpan(i * imageSize, imageSize));
            labels[i] = files[i].Label;
        }
        if (cachePath is not null)
        {
            try
            {
                DecodedCache.Write(cachePath, pixels, labels, channels, first.Height, first.Width, classes.Length);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A read-only data folder only costs the decode next time; the data itself is fine.
                if (o.CacheDir is null)
                {
                    try { DecodedCache.Write(TempCachePath(cachePath), pixels, labels, channels, first.Height, first.Width, classes.Length); }
                    catch (Exception e2) when (e2 is IOException or UnauthorizedAccessException) { }
                }
            }
        }
        return new Dataset("imagefolder", split, pixels, labels, channels, first.Height, first.Width, classes.Length, classes);
    }

    /// <summary>Where a cache goes when the data folder is read-only: the key already names the content.</summary>
    private static string TempCachePath(string cachePath) => Path.Combine(Path.GetTempPath(), "lopper-cache", Path.GetFileName(cachePath));

    private static Dataset ToRgb(Dataset grey)
    {
        int plane = grey.ImageSize;
        var pixels = new byte[(long)grey.Count * plane * 3];
        for (int i = 0; i < grey.Count; i++)
            for (int c = 0; c < 3; c++) grey.Image(i).CopyTo(pixels.AsSpan((i * 3 + c) * plane, plane));
        return new Dataset(grey.Name, grey.Split, pixels, grey.Labels.ToArray(), 3, grey.Height, grey.Width, grey.ClassCount, grey.ClassNames);
    }

    /// <summary>
    /// Holds out round(F*n) images of each class (at least one when the class has two or more), chosen by a seeded
    /// shuffle per class; both parts keep the original order.
    /// </summary>
    internal static (Dataset Train, Dataset Val) StratifiedSplit(Dataset all, double fraction, ulong seed, string source)
    {
        var byClass = new List<int>[all.ClassCount];
        for (int c = 0; c < byClass.Length; c++) byClass[c] = new List<int>();
        for (int i = 0; i < all.Count; i++) byClass[all.Label(i)].Add(i);
        var isVal = new bool[all.Count];
        for (int c = 0; c < byClass.Length; c++)
        {
            var idx = byClass[c].ToArray();
            int n = idx.Length;
            int k = (int)Math.Round(n * fraction, MidpointRounding.AwayFromZero);
            if (n >= 2) k = Math.Clamp(k, 1, n - 1); else k = 0;
            Rng.Derive(seed ^ SplitDomain, (ulong)c).Shuffle(idx);
            for (int j = 0; j < k; j++) isVal[idx[j]] = true;
        }
        var train = Subset(all, isVal, false, "train");
        var val = Subset(all, isVal, true, "val");
        if (val.Count == 0) throw LopperInputException.ForOptions<DataOptions>($"{source}: ValSplit {fraction} leaves the validation split empty (each class needs two or more images)", "ValSplit");
        return (train, val);
    }

    private static Dataset Subset(Dataset all, bool[] isVal, bool want, string split)
    {
        int count = 0;
        foreach (bool v in isVal) if (v == want) count++;
        var pixels = new byte[(long)count * all.ImageSize];
        var labels = new int[count];
        for (int i = 0, j = 0; i < all.Count; i++)
        {
            if (isVal[i] != want) continue;
            all.Image(i).CopyTo(pixels.AsSpan(j * all.ImageSize, all.ImageSize));
            labels[j++] = all.Label(i);
        }
        return new Dataset(all.Name, split, pixels, labels, all.Channels, all.Height, all.Width, all.ClassCount, all.ClassNames);
    }
}
