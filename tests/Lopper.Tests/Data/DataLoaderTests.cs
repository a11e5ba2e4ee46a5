using Lopper.Data;

namespace Lopper.Tests.Data;

public class DataLoaderTests
{
    /// <summary>n images whose label is their own index, so a batch's labels say which samples it holds.</summary>
    private static Dataset Indexed(int n, int channels = 1, int height = 4, int width = 4)
    {
        var pixels = new byte[n * channels * height * width];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)((i * 31 + 7) % 256);
        var labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i;
        return new Dataset("indexed", "train", pixels, labels, channels, height, width, n);
    }

    private static List<(float[] Images, int[] Labels)> Collect(DataLoader loader, int epoch)
    {
        var list = new List<(float[], int[])>();
        foreach (var batch in loader.Epoch(epoch))
        {
            using (batch)
            {
                Assert.Equal([batch.Count, loader.Data.Channels, loader.Data.Height, loader.Data.Width], batch.Images.Shape);
                list.Add(((float[])batch.Images.Data.Clone(), batch.Labels));
            }
        }
        return list;
    }

    [Fact]
    public void SameSeedAndEpochGiveIdenticalBatches()
    {
        var data = Indexed(37, channels: 3, height: 6, width: 5);
        var a = Collect(new DataLoader(data, 8, seed: 42, cropPadding: 2, flip: true), 3);
        var b = Collect(new DataLoader(data, 8, seed: 42, cropPadding: 2, flip: true), 3);
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].Labels, b[i].Labels);
            Assert.Equal(a[i].Images, b[i].Images);
        }

        var other = Collect(new DataLoader(data, 8, seed: 43, cropPadding: 2, flip: true), 3);
        Assert.NotEqual(a[0].Labels, other[0].Labels);
    }

    [Fact]
    public void ResumedOrRandomAccessBatchesMatchSequentialOnes()
    {
        var data = Indexed(30);
        var loader = new DataLoader(data, 7, seed: 5, cropPadding: 1, flip: true);
        var sequential = Collect(loader, 2);
        // Touch another epoch first so any cached state would be stale.
        loader.GetBatch(0, 1).Dispose();
        using (var b3 = loader.GetBatch(2, 3))
        {
            Assert.Equal(sequential[3].Labels, b3.Labels);
            Assert.Equal(sequential[3].Images, b3.Images.Data);
        }
        int k = 2;
        foreach (var batch in new DataLoader(data, 7, seed: 5, cropPadding: 1, flip: true).Epoch(2, firstBatch: 2))
        {
            using (batch)
            {
                Assert.Equal(k, batch.Index);
                Assert.Equal(sequential[k].Labels, batch.Labels);
                Assert.Equal(sequential[k].Images, batch.Images.Data);
                k++;
            }
        }
        Assert.Equal(sequential.Count, k);
    }

    [Fact]
    public void DifferentEpochsHaveDifferentOrders()
    {
        var loader = new DataLoader(Indexed(50), 10, seed: 1);
        Assert.NotEqual(loader.Order(0), loader.Order(1));
        Assert.Equal(loader.Order(1), new DataLoader(Indexed(50), 10, seed: 1).Order(1));
    }

    [Fact]
    public void EverySampleOncePerEpoch()
    {
        var loader = new DataLoader(Indexed(23), 5, seed: 9);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var seen = new int[23];
            foreach (var (_, labels) in Collect(loader, epoch))
                foreach (int l in labels) seen[l]++;
            Assert.All(seen, n => Assert.Equal(1, n));
        }
    }

    [Fact]
    public void NoShuffleKeepsDatasetOrder()
    {
        var loader = new DataLoader(Indexed(12), 5, seed: 9, shuffle: false);
        var batches = Collect(loader, 4);
        Assert.Equal([0, 1, 2, 3, 4], batches[0].Labels);
        Assert.Equal([10, 11], batches[2].Labels);
    }

    [Fact]
    public void DropLastCounts()
    {
        var data = Indexed(23);
        var keep = new DataLoader(data, 5, seed: 0);
        Assert.Equal(5, keep.BatchesPerEpoch);
        Assert.Equal(23, keep.SamplesPerEpoch);
        var kept = Collect(keep, 0);
        Assert.Equal([5, 5, 5, 5, 3], kept.ConvertAll(b => b.Labels.Length));

        var drop = new DataLoader(data, 5, seed: 0, dropLast: true);
        Assert.Equal(4, drop.BatchesPerEpoch);
        Assert.Equal(20, drop.SamplesPerEpoch);
        Assert.Equal([5, 5, 5, 5], Collect(drop, 0).ConvertAll(b => b.Labels.Length));

        Assert.Equal(1, new DataLoader(data, 23, seed: 0, dropLast: true).BatchesPerEpoch);
        Assert.Throws<LopperInputException>(() => new DataLoader(data, 24, seed: 0, dropLast: true));
        Assert.Throws<LopperInputException>(() => new DataLoader(data, 0, seed: 0));
    }

    [Fact]
    public void NormalisesPerChannel()
    {
        // Two images, two channels of 1x2: channel 0 holds 0 and 255, channel 1 holds 51 and 102.
        byte[] pixels = [0, 255, 51, 102, 255, 0, 102, 51];
        var data = new Dataset("t", "train", pixels, [0, 1], 2, 1, 2, 2);

        var (mean, std) = data.ChannelStats();
        Assert.Equal(0.5f, mean[0], 6);
        Assert.Equal(0.5f, std[0], 6);
        Assert.Equal(0.3f, mean[1], 6);
        Assert.Equal(0.1f, std[1], 6);

        using (var b = new DataLoader(data, 2, seed: 0, shuffle: false).GetBatch(0, 0))
            Assert.Equal([-1f, 1f, -1f, 1f, 1f, -1f, 1f, -1f], b.Images.Data, new Tolerance(1e-5f));

        float[] m = [0.25f, 0.5f], s = [0.5f, 2f];
        using var fixedStats = new DataLoader(data, 2, seed: 0, shuffle: false, mean: m, std: s).GetBatch(0, 0);
        for (int i = 0; i < pixels.Length; i++)
        {
            int c = i / 2 % 2;
            Assert.Equal((pixels[i] / 255f - m[c]) / s[c], fixedStats.Images.Data[i], 6);
        }

        Assert.Throws<LopperInputException>(() => new DataLoader(data, 2, 0, mean: [0.5f], std: [1f]));
        Assert.Throws<LopperInputException>(() => new DataLoader(data, 2, 0, mean: m, std: [1f, 0f]));
    }

    /// <summary>Images of 5x5 (two channels) with a single hot pixel at row 1, column 3 of channel 1.</summary>
    private static Dataset OneHot(int n)
    {
        var pixels = new byte[n * 2 * 25];
        for (int i = 0; i < n; i++) pixels[i * 50 + 25 + 1 * 5 + 3] = 255;
        return new Dataset("onehot", "train", pixels, new int[n], 2, 5, 5, 1);
    }

    private static (int C, int Y, int X)[] HotPixels(float[] image)
    {
        var hot = new List<(int, int, int)>();
        for (int i = 0; i < image.Length; i++)
        {
            Assert.True(image[i] == 0f || image[i] == 1f, $"value {image[i]} at {i}");
            if (image[i] == 1f) hot.Add((i / 25, i % 25 / 5, i % 5));
        }
        return hot.ToArray();
    }

    [Fact]
    public void FlipMirrorsColumns()
    {
        var loader = new DataLoader(OneHot(64), 64, seed: 3, mean: [0f, 0f], std: [1f, 1f], flip: true);
        using var batch = loader.GetBatch(0, 0);
        int flipped = 0;
        for (int i = 0; i < 64; i++)
        {
            var hot = HotPixels(batch.Images.Data.AsSpan(i * 50, 50).ToArray());
            Assert.Single(hot);
            Assert.Equal((1, 1), (hot[0].C, hot[0].Y));
            Assert.Contains(hot[0].X, new[] { 3, 1 });
            if (hot[0].X == 1) flipped++;
        }
        // p = 0.5 over 64 draws: far from both 0 and 64.
        Assert.InRange(flipped, 16, 48);
    }

    [Fact]
    public void CropShiftsWithinPaddingAndPadsWithZeroPixels()
    {
        const int P = 2;
        var loader = new DataLoader(OneHot(400), 400, seed: 11, mean: [0f, 0f], std: [1f, 1f], cropPadding: P);
        using var batch = loader.GetBatch(0, 0);
        var seenShift = new HashSet<(int, int)>();
        int dropped = 0;
        for (int i = 0; i < 400; i++)
        {
            var hot = HotPixels(batch.Images.Data.AsSpan(i * 50, 50).ToArray());
            if (hot.Length == 0)
            {
                dropped++;
                continue;
            }
            Assert.Single(hot);
            Assert.Equal(1, hot[0].C);
            int dy = hot[0].Y - 1, dx = hot[0].X - 3;
            Assert.InRange(dy, -P, P);
            Assert.InRange(dx, -P, P);
            seenShift.Add((dy, dx));
        }
        // The pixel at column 3 of 5 leaves the frame when shifted right by 2; row 1 when shifted up by 2.
        Assert.True(dropped > 0);
        // Every shift that keeps the pixel visible occurs: dy in -1..2, dx in -2..1.
        Assert.Equal(16, seenShift.Count);
    }

    [Fact]
    public void CropAndFlipMatchReference()
    {
        const int P = 3;
        var data = Indexed(20, channels: 3, height: 5, width: 7);
        var loader = new DataLoader(data, 20, seed: 2, mean: [0f, 0f, 0f], std: [1f, 1f, 1f], cropPadding: P, flip: true);
        using var batch = loader.GetBatch(1, 0);
        for (int i = 0; i < batch.Count; i++)
        {
            var src = data.Image(batch.Labels[i]).ToArray();
            var got = batch.Images.Data.AsSpan(i * data.ImageSize, data.ImageSize).ToArray();
            bool matched = false;
            for (int oy = 0; oy <= 2 * P && !matched; oy++)
                for (int ox = 0; ox <= 2 * P && !matched; ox++)
                    for (int f = 0; f < 2 && !matched; f++)
                        matched = Reference(src, 3, 5, 7, P, ox, oy, f == 1).AsSpan().SequenceEqual(got);
            Assert.True(matched, $"sample {i} is no crop/flip of its source");
        }
    }

    /// <summary>Pad with zeros, crop at (oy, ox), then mirror: written the slow, obvious way.</summary>
    private static float[] Reference(byte[] src, int c, int h, int w, int p, int ox, int oy, bool flip)
    {
        var padded = new float[c, h + 2 * p, w + 2 * p];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    padded[ch, y + p, x + p] = src[(ch * h + y) * w + x] / 255f;
        var result = new float[c * h * w];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    result[(ch * h + y) * w + (flip ? w - 1 - x : x)] = padded[ch, y + oy, x + ox];
        return result;
    }

    [Fact]
    public void DisposeReturnsTheBufferOnce()
    {
        var loader = new DataLoader(Indexed(4), 4, seed: 0);
        var batch = loader.GetBatch(0, 0);
        Assert.Equal(4 * 16, batch.Images.Length);
        batch.Dispose();
        Assert.Equal(0, batch.Images.Length);
        batch.Dispose();
    }

    private sealed class Tolerance(float eps) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= eps;
        public int GetHashCode(float v) => 0;
    }
}
