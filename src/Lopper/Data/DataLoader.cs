using Lopper.Tensors;

namespace Lopper.Data;

/// <summary>
/// Turns a <see cref="Dataset"/> into normalised, optionally shuffled and augmented float batches.
/// </summary>
/// <remarks>
/// <para>Every random choice is a pure function of the seed and the batch's coordinates: the
/// sample order of an epoch depends only on (seed, epoch), and a batch's crops and flips only on
/// (seed, epoch, batch index). A run resumed at any epoch or batch therefore sees exactly the
/// batches an uninterrupted run would, whatever the thread count.</para>
/// <para>Thread safety: <see cref="GetBatch"/> may be called from several threads at once (for
/// example a prefetching thread); each call works on its own arrays.</para>
/// </remarks>
public sealed class DataLoader
{
    // Distinct sub-streams so the shuffle never shares random numbers with augmentation, nor with
    // anything else (weight init, dropout) that derives from the same run seed.
    private const ulong ShuffleDomain = 0x53485546464C4531UL; // "SHUFFLE1"
    private const ulong AugmentDomain = 0x4155474D454E5431UL; // "AUGMENT1"

    private readonly Dataset _data;
    private readonly float[] _mean, _std;
    // Per channel, the normalised value of each of the 256 byte values: one lookup per pixel.
    private readonly float[] _lut;
    private EpochOrder? _order;
    private bool _randomResizedCrop;

    private sealed record EpochOrder(int Epoch, int[] Indices);

    /// <summary>Creates a loader.</summary>
    /// <param name="data">The dataset; it is only read.</param>
    /// <param name="batchSize">Samples per batch (at least 1).</param>
    /// <param name="seed">Run seed for shuffling and augmentation.</param>
    /// <param name="shuffle">Shuffle the order each epoch (training); false keeps dataset order (evaluation).</param>
    /// <param name="mean">Per-channel mean in 0..1 pixel units; null uses <see cref="Dataset.ChannelStats"/> of <paramref name="data"/>.
    /// An evaluation loader should be given the training set's statistics.</param>
    /// <param name="std">Per-channel standard deviation in 0..1 pixel units (each &gt; 0); null as for <paramref name="mean"/>.</param>
    /// <param name="cropPadding">Random crop: pad each side with P black pixels, then crop back to HxW at a random offset. 0 disables it.</param>
    /// <param name="flip">Random horizontal flip with probability 0.5.</param>
    /// <param name="dropLast">Drop the final batch of an epoch when it is smaller than <paramref name="batchSize"/>.</param>
    /// <exception cref="LopperInputException">A setting is out of range, or drop-last leaves no batch.</exception>
    public DataLoader(Dataset data, int batchSize, ulong seed, bool shuffle = true, float[]? mean = null, float[]? std = null,
        int cropPadding = 0, bool flip = false, bool dropLast = false)
    {
        if (batchSize < 1) throw LopperInputException.ForOptions<Lopper.Training.TrainConfig>($"BatchSize must be at least 1, got {batchSize}", "BatchSize");
        if (cropPadding < 0) throw LopperInputException.ForOptions<Lopper.Training.TrainConfig>($"CropPadding must be 0 or more, got {cropPadding}", "CropPadding");
        if (data.Count == 0) throw new LopperInputException($"{data.Name} {data.Split}: dataset is empty");
        if (dropLast && data.Count < batchSize)
            throw LopperInputException.ForOptions<Lopper.Training.TrainConfig>($"BatchSize {batchSize} is larger than the {data.Count} images of {data.Name} {data.Split}, so drop-last leaves no batch", "BatchSize");

        if (mean is null || std is null)
        {
            var stats = data.ChannelStats();
            mean ??= stats.Mean;
            std ??= stats.Std;
        }
        if (mean.Length != data.Channels || std.Length != data.Channels)
            throw new LopperInputException($"normalisation has {mean.Length} means and {std.Length} stds for {data.Channels} channels of {data.Name}");
        for (int c = 0; c < std.Length; c++)
            if (!(std[c] > 0) || !float.IsFinite(std[c]) || !float.IsFinite(mean[c]))
                throw new LopperInputException($"normalisation of {data.Name} channel {c}: mean {mean[c]}, std {std[c]}; std must be positive and both finite");

        _data = data;
        _mean = (float[])mean.Clone();
        _std = (float[])std.Clone();
        BatchSize = batchSize;
        Seed = seed;
        Shuffle = shuffle;
        CropPadding = cropPadding;
        Flip = flip;
        DropLast = dropLast;
        BatchesPerEpoch = dropLast ? data.Count / batchSize : (data.Count + batchSize - 1) / batchSize;

        _lut = new float[data.Channels * 256];
        for (int c = 0; c < data.Channels; c++)
            for (int v = 0; v < 256; v++)
                _lut[c * 256 + v] = (v / 255f - _mean[c]) / _std[c];
    }

    /// <summary>The dataset batches are drawn from.</summary>
    public Dataset Data => _data;

    /// <summary>Samples per full batch.</summary>
    public int BatchSize { get; }

    /// <summary>The run seed.</summary>
    public ulong Seed { get; }

    /// <summary>Whether each epoch has its own shuffled order.</summary>
    public bool Shuffle { get; }

    /// <summary>Random-crop padding in pixels (0 = off).</summary>
    public int CropPadding { get; }

    /// <summary>Whether images are flipped horizontally with probability 0.5.</summary>
    public bool Flip { get; }

    /// <summary>Whether each training image is a random resized crop (<see cref="WithRandomResizedCrop"/>).</summary>
    public bool RandomResizedCrop => _randomResizedCrop;

    /// <summary>
    /// A copy of this loader that also applies torchvision's RandomResizedCrop to every image: a random box of 8-100%
    /// of the area with aspect ratio 3/4-4/3 (log-uniform), resampled bilinearly back to HxW, before any flip.
    /// Seeded per (epoch, batch) like the other augmentations.
    /// </summary>
    public DataLoader WithRandomResizedCrop()
    {
        var copy = (DataLoader)MemberwiseClone();
        copy._order = null;
        copy._randomResizedCrop = true;
        return copy;
    }

    /// <summary>Whether a short final batch is dropped.</summary>
    public bool DropLast { get; }

    /// <summary>Per-channel mean used for normalisation (0..1 units).</summary>
    public IReadOnlyList<float> Mean => _mean;

    /// <summary>Per-channel standard deviation used for normalisation (0..1 units).</summary>
    public IReadOnlyList<float> Std => _std;

    /// <summary>Batches in one epoch.</summary>
    public int BatchesPerEpoch { get; }

    /// <summary>Samples actually seen per epoch (less than <see cref="Dataset.Count"/> only with drop-last).</summary>
    public int SamplesPerEpoch => DropLast ? BatchesPerEpoch * BatchSize : _data.Count;

    /// <summary>
    /// The batches of <paramref name="epoch"/>, from <paramref name="firstBatch"/> on (to resume mid-epoch).
    /// Each yielded batch belongs to the caller, who disposes it.
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch, int firstBatch = 0)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "epoch must be 0 or more");
        if (firstBatch < 0 || firstBatch > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(firstBatch), firstBatch, $"epoch has {BatchesPerEpoch} batches");
        return Iterate(epoch, firstBatch);
    }

    private IEnumerable<Batch> Iterate(int epoch, int firstBatch)
    {
        for (int b = firstBatch; b < BatchesPerEpoch; b++) yield return GetBatch(epoch, b);
    }

    /// <summary>The sample order of <paramref name="epoch"/>: dataset indices, a copy the caller may keep.</summary>
    public int[] Order(int epoch) => (int[])OrderOf(epoch).Clone();

    /// <summary>
    /// Batch <paramref name="batchIndex"/> of <paramref name="epoch"/>, the same every time it is asked for.
    /// The caller owns the result and disposes it.
    /// </summary>
    public Batch GetBatch(int epoch, int batchIndex)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "epoch must be 0 or more");
        if ((uint)batchIndex >= (uint)BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(batchIndex), batchIndex, $"epoch has {BatchesPerEpoch} batches");

        int[] order = OrderOf(epoch);
        int start = batchIndex * BatchSize;
        int count = Math.Min(BatchSize, _data.Count - start);
        int channels = _data.Channels, height = _data.Height, width = _data.Width, imageSize = _data.ImageSize;

        var labels = new int[count];
        // Per sample: source index, crop offset x, crop offset y, flip. Drawn in sample order on
        // this thread so the values cannot depend on how the fill below is split over threads.
        var plan = new int[count * 4];
        bool crop = CropPadding > 0;
        Rng? rng = crop || Flip || _randomResizedCrop ? Rng.Derive(Seed ^ AugmentDomain, (ulong)epoch, (ulong)batchIndex) : null;
        var boxes = _randomResizedCrop ? new Lopper.Data.RandomResizedCrop.Box[count] : null;
        for (int i = 0; i < count; i++)
        {
            int src = order[start + i];
            labels[i] = _data.Label(src);
            plan[i * 4] = src;
            plan[i * 4 + 1] = crop ? rng!.NextInt(2 * CropPadding + 1) : CropPadding;
            plan[i * 4 + 2] = crop ? rng!.NextInt(2 * CropPadding + 1) : CropPadding;
            plan[i * 4 + 3] = Flip && (rng!.NextULong() >> 63) != 0 ? 1 : 0;
            if (boxes is not null) boxes[i] = Lopper.Data.RandomResizedCrop.Sample(rng!, height, width);
        }

        var images = Tensor.Pooled([count, channels, height, width]);
        float[] dst = images.Data;
        var pixels = _data.PixelMemory;
        float[] lut = _lut;
        int pad = CropPadding;
        int chunks = Math.Min(count, Parallelism.Threads);
        Parallelism.For(chunks, k =>
        {
            int end = (int)((long)count * (k + 1) / chunks);
            for (int i = (int)((long)count * k / chunks); i < end; i++)
            {
                if (boxes is not null)
                {
                    Lopper.Data.RandomResizedCrop.Fill(pixels.Span.Slice(plan[i * 4] * imageSize, imageSize), new Span<float>(dst, i * imageSize, imageSize),
                        lut, channels, height, width, boxes[i], plan[i * 4 + 3] != 0);
                    continue;
                }
                FillImage(
                    pixels.Span.Slice(plan[i * 4] * imageSize, imageSize),
                    new Span<float>(dst, i * imageSize, imageSize),
                    lut, channels, height, width,
                    plan[i * 4 + 1] - pad, plan[i * 4 + 2] - pad, plan[i * 4 + 3] != 0);
            }
        });
        return new Batch(images, labels, epoch, batchIndex);
    }

    /// <summary>
    /// Writes one normalised image. Output pixel (y, x) reads source (y + shiftY, x' + shiftX)
    /// where x' is x or, when flipped, W-1-x; sources outside the image are the zero padding,
    /// which is a black pixel normalised like any other (as torchvision pads before normalising).
    /// </summary>
    private static void FillImage(ReadOnlySpan<byte> src, Span<float> dst, float[] lut, int channels, int height, int width,
        int shiftX, int shiftY, bool flip)
    {
        int plane = height * width;
        // Cropped columns xc in [lo, hi) read source column xc + shiftX; the rest are padding.
        int lo = Math.Max(0, -shiftX), hi = Math.Min(width, width - shiftX);
        for (int c = 0; c < channels; c++)
        {
            var table = new ReadOnlySpan<float>(lut, c * 256, 256);
            float padValue = table[0];
            for (int y = 0; y < height; y++)
            {
                var row = dst.Slice(c * plane + y * width, width);
                int sy = y + shiftY;
                if (sy < 0 || sy >= height || lo >= hi)
                {
                    row.Fill(padValue);
                    continue;
                }
                var srow = src.Slice(c * plane + sy * width, width);
                if (!flip)
                {
                    row[..lo].Fill(padValue);
                    for (int x = lo; x < hi; x++) row[x] = table[srow[x + shiftX]];
                    row[hi..].Fill(padValue);
                }
                else
                {
                    // Cropped column xc lands at output column width-1-xc.
                    row[(width - lo)..].Fill(padValue);
                    for (int xc = lo; xc < hi; xc++) row[width - 1 - xc] = table[srow[xc + shiftX]];
                    row[..(width - hi)].Fill(padValue);
                }
            }
        }
    }

    private int[] OrderOf(int epoch)
    {
        var cached = Volatile.Read(ref _order);
        if (cached is not null && cached.Epoch == epoch) return cached.Indices;
        var indices = new int[_data.Count];
        for (int i = 0; i < indices.Length; i++) indices[i] = i;
        // Always from the identity, never from the previous epoch's order: (seed, epoch) alone decides it.
        if (Shuffle) Rng.Derive(Seed ^ ShuffleDomain, (ulong)epoch).Shuffle(indices);
        // The cached order is never mutated, so a reader holding the old one stays correct.
        Volatile.Write(ref _order, new EpochOrder(epoch, indices));
        return indices;
    }
}
