namespace Lopper.Data;

/// <summary>
/// An image classification split held as raw bytes: one byte per pixel (0..255), images stored
/// back to back in NCHW order, plus one label per image. Bytes rather than floats keep CIFAR-10's
/// 50 000 training images at 150 MB instead of 600 MB; <see cref="DataLoader"/> converts a batch
/// at a time.
/// </summary>
/// <remarks>
/// A dataset is immutable once built: the constructor takes ownership of the arrays it is given
/// and only read-only views are handed out, which is what lets <see cref="ChannelStats"/> cache.
/// </remarks>
public sealed class Dataset
{
    private readonly ReadOnlyMemory<byte> _pixels;
    private readonly int[] _labels;
    private readonly string[] _classNames;
    private (float[] Mean, float[] Std)? _stats;

    /// <summary>
    /// Wraps <paramref name="pixels"/> (count*channels*height*width bytes) and <paramref name="labels"/>
    /// without copying; the caller must not change either array afterwards.
    /// </summary>
    /// <param name="name">Dataset name, e.g. "fashion-mnist".</param>
    /// <param name="split">"train" or "test" (free text, used in messages).</param>
    /// <param name="pixels">Raw pixels, NCHW per image.</param>
    /// <param name="labels">One label per image, each in [0, <paramref name="classCount"/>).</param>
    /// <param name="channels">Channels per image.</param>
    /// <param name="height">Image height.</param>
    /// <param name="width">Image width.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="classNames">Optional human-readable class names (<paramref name="classCount"/> of them); defaults to "0", "1", ...</param>
    /// <exception cref="ArgumentException">The sizes do not agree or a label is out of range (readers check files first and report those as <see cref="LopperInputException"/>).</exception>
    public Dataset(string name, string split, byte[] pixels, int[] labels, int channels, int height, int width, int classCount,
        IReadOnlyList<string>? classNames = null)
        : this(name, split, (ReadOnlyMemory<byte>)pixels, labels, channels, height, width, classCount, classNames)
    {
    }

    /// <summary>
    /// As the array constructor, over any read-only memory: a memory-mapped cache file (<see cref="Images.DecodedCache"/>)
    /// hands its mapping in here without copying it.
    /// </summary>
    internal Dataset(string name, string split, ReadOnlyMemory<byte> pixels, int[] labels, int channels, int height, int width, int classCount,
        IReadOnlyList<string>? classNames = null)
    {
        if (channels < 1 || height < 1 || width < 1) throw new ArgumentException($"image shape must be positive, got {channels}x{height}x{width}");
        if (classCount < 1) throw new ArgumentException($"class count must be positive, got {classCount}");
        long imageSize = (long)channels * height * width;
        if (pixels.Length != imageSize * labels.Length)
            throw new ArgumentException($"{labels.Length} images of {channels}x{height}x{width} need {imageSize * labels.Length} bytes, got {pixels.Length}");
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classCount) throw new ArgumentException($"label {labels[i]} at index {i} is out of range for {classCount} classes");
        if (classNames is not null && classNames.Count != classCount)
            throw new ArgumentException($"{classNames.Count} class names for {classCount} classes");

        Name = name;
        Split = split;
        _pixels = pixels;
        _labels = labels;
        Channels = channels;
        Height = height;
        Width = width;
        ClassCount = classCount;
        _classNames = new string[classCount];
        for (int c = 0; c < classCount; c++) _classNames[c] = classNames?[c] ?? c.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Dataset name, e.g. "fashion-mnist" or "cifar10".</summary>
    public string Name { get; }

    /// <summary>Which split this is ("train" or "test").</summary>
    public string Split { get; }

    /// <summary>Number of images.</summary>
    public int Count => _labels.Length;

    /// <summary>Channels per image (1 for MNIST-like, 3 for CIFAR).</summary>
    public int Channels { get; }

    /// <summary>Image height in pixels.</summary>
    public int Height { get; }

    /// <summary>Image width in pixels.</summary>
    public int Width { get; }

    /// <summary>Bytes per image: Channels*Height*Width.</summary>
    public int ImageSize => Channels * Height * Width;

    /// <summary>Number of classes; every label is below it.</summary>
    public int ClassCount { get; }

    /// <summary>Class names, <see cref="ClassCount"/> of them.</summary>
    public IReadOnlyList<string> ClassNames => _classNames;

    /// <summary>All pixels, Count*ImageSize bytes, NCHW.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels.Span;

    /// <summary>All labels, one per image.</summary>
    public ReadOnlySpan<int> Labels => _labels;

    /// <summary>The pixels of image <paramref name="index"/> (CHW, ImageSize bytes).</summary>
    public ReadOnlySpan<byte> Image(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"dataset has {Count} images");
        return _pixels.Span.Slice(index * ImageSize, ImageSize);
    }

    /// <summary>The label of image <paramref name="index"/>.</summary>
    public int Label(int index) => _labels[index];

    /// <summary>Raw pixels for the loader's inner loops, which cannot capture spans in lambdas.</summary>
    internal ReadOnlyMemory<byte> PixelMemory => _pixels;

    /// <summary>
    /// Per-channel mean and (population) standard deviation of the pixels in 0..1 units, over every
    /// image. Exact and independent of thread count: it sums integer histograms, not floats.
    /// Returns fresh arrays the caller may keep or change.
    /// </summary>
    public (float[] Mean, float[] Std) ChannelStats()
    {
        _stats ??= ComputeStats();
        return ((float[])_stats.Value.Mean.Clone(), (float[])_stats.Value.Std.Clone());
    }

    private (float[] Mean, float[] Std) ComputeStats()
    {
        int channels = Channels, plane = Height * Width, imageSize = ImageSize, count = Count;
        var pixels = _pixels;
        int chunks = Math.Max(1, Math.Min(count, Parallelism.Threads * 4));
        var hists = new long[chunks][];
        Parallelism.For(chunks, k =>
        {
            var h = new long[channels * 256];
            int start = (int)((long)count * k / chunks), end = (int)((long)count * (k + 1) / chunks);
            for (int i = start; i < end; i++)
            {
                for (int c = 0; c < channels; c++)
                {
                    var src = pixels.Span.Slice(i * imageSize + c * plane, plane);
                    int b = c * 256;
                    for (int p = 0; p < src.Length; p++) h[b + src[p]]++;
                }
            }
            hists[k] = h;
        });

        var mean = new float[channels];
        var std = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            long n = 0, sum = 0;
            for (int v = 0; v < 256; v++)
            {
                long cnt = 0;
                for (int k = 0; k < chunks; k++) cnt += hists[k][c * 256 + v];
                n += cnt;
                sum += cnt * v;
            }
            double m = n == 0 ? 0 : sum / (255.0 * n);
            double var = 0;
            for (int v = 0; v < 256; v++)
            {
                long cnt = 0;
                for (int k = 0; k < chunks; k++) cnt += hists[k][c * 256 + v];
                double d = v / 255.0 - m;
                var += cnt * d * d;
            }
            mean[c] = (float)m;
            std[c] = (float)(n == 0 ? 0 : Math.Sqrt(var / n));
        }
        return (mean, std);
    }

    /// <summary>A copy of images [start, start+count) as a new dataset (e.g. for a quick run or a validation split).</summary>
    public Dataset Slice(int start, int count)
    {
        if (start < 0 || count < 0 || start > Count - count)
            throw new ArgumentOutOfRangeException(nameof(count), $"slice [{start}, {start}+{count}) is outside the {Count} images of {Name} {Split}");
        var pixels = _pixels.Slice(start * ImageSize, count * ImageSize).ToArray();
        var labels = new int[count];
        Array.Copy(_labels, start, labels, 0, count);
        return new Dataset(Name, Split, pixels, labels, Channels, Height, Width, ClassCount, _classNames);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Split}: {Count} images {Channels}x{Height}x{Width}, {ClassCount} classes";
}
