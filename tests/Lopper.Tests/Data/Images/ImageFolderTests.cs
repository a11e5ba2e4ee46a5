using Lopper.Data;
using Lopper.Data.Images;
using Lopper.Imaging;

namespace Lopper.Tests.Data.Images;

public class ImageFolderTests
{
    private static DataOptions Options(string? cache = null) => new() { Decoder = SkiaImageDecoder.Instance, CacheDir = cache };

    [Fact]
    public void ReadsPixelsLabelsAndClassNamesInFileNameOrder()
    {
        using var dir = new TempDir();
        var written = ImageFiles.Folder(dir.Path, ["b-cat", "a-dog", "c-eel"], perClass: 2, w: 5, h: 4, channels: 3);
        var (train, val) = ImageFolder.Load(dir.Path, Options());
        // Classes in ordinal folder order; labels follow it, not the order the test wrote them in.
        Assert.Equal(["a-dog", "b-cat", "c-eel"], train.ClassNames);
        Assert.Equal(6, train.Count);
        Assert.Equal(6, val.Count);
        Assert.Equal((3, 4, 5), (train.Channels, train.Height, train.Width));
        int[] remap = [1, 0, 2]; // written label -> sorted class index
        foreach (var (ds, split) in new[] { (train, "train"), (val, "val") })
        {
            var expected = written.Where(w => w.Split == split).ToList();
            for (int i = 0; i < ds.Count; i++)
            {
                Assert.Equal(remap[expected[i].Label], ds.Label(i));
                var im = expected[i].Image;
                var chw = ds.Image(i);
                for (int c = 0; c < 3; c++)
                    for (int p = 0; p < 20; p++) Assert.Equal(im.Pixels[p * 3 + c], chw[c * 20 + p]);
            }
        }
    }

    [Fact]
    public void GreyStaysOneChannelRgbaDropsAlphaAndMixedGreyBecomesRgb()
    {
        using var dir = new TempDir();
        var grey = ImageFiles.Pattern(3, 3, 1, 1);
        ImageFiles.Png(dir.File("g/train/x/0.png"), grey);
        ImageFiles.Png(dir.File("g/val/x/1.png"), grey);
        var (g, _) = ImageFolder.Load(dir.File("g"), Options());
        Assert.Equal(1, g.Channels);
        Assert.Equal(grey.Pixels, g.Image(0).ToArray());

        // An RGBA PNG (Skia encodes RGBA as such when the alpha varies) and a grey one in the same split.
        var rgba = new byte[3 * 3 * 4];
        for (int i = 0; i < rgba.Length; i++) rgba[i] = (byte)(i % 4 == 3 ? 90 + i : i * 9);
        using (var bmp = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(3, 3, SkiaSharp.SKColorType.Rgba8888, SkiaSharp.SKAlphaType.Unpremul)))
        {
            rgba.CopyTo(bmp.GetPixelSpan());
            Directory.CreateDirectory(dir.File("m/train/x"));
            File.WriteAllBytes(dir.File("m/train/x/0.png"), bmp.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100).ToArray());
        }
        ImageFiles.Png(dir.File("m/train/x/1.png"), grey);
        ImageFiles.Png(dir.File("m/val/x/2.png"), grey);
        var (m, _) = ImageFolder.Load(dir.File("m"), Options());
        Assert.Equal(3, m.Channels);
        for (int p = 0; p < 9; p++)
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(rgba[p * 4 + c], m.Image(0)[c * 9 + p]);
                Assert.Equal(grey.Pixels[p], m.Image(1)[c * 9 + p]);
            }
    }

    [Fact]
    public void JpegDecodesCloseToItsSource()
    {
        using var dir = new TempDir();
        // A smooth image: JPEG is lossy, so compare within a tolerance that a wrong channel order or layout would break.
        var px = new byte[16 * 16 * 3];
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++) { px[(y * 16 + x) * 3] = (byte)(x * 16); px[(y * 16 + x) * 3 + 1] = (byte)(y * 16); px[(y * 16 + x) * 3 + 2] = 128; }
        var im = new DecodedImage(16, 16, 3, px);
        foreach (var split in new[] { "train", "val" })
        {
            Directory.CreateDirectory(dir.File($"{split}/a"));
            File.WriteAllBytes(dir.File($"{split}/a/0.JPG"), SkiaImageDecoder.EncodeJpeg(im, 95));
        }
        var (train, _) = ImageFolder.Load(dir.Path, Options());
        double maxErr = 0;
        for (int p = 0; p < 256; p++)
            for (int c = 0; c < 3; c++) maxErr = Math.Max(maxErr, Math.Abs(train.Image(0)[c * 256 + p] - px[p * 3 + c]));
        Assert.True(maxErr < 24, $"max error {maxErr}");
    }

    [Fact]
    public void ResizeShorterSideThenCentreCrop()
    {
        using var dir = new TempDir();
        ImageFiles.Png(dir.File("train/a/0.png"), ImageFiles.Pattern(40, 20, 3, 1));
        ImageFiles.Png(dir.File("train/a/1.png"), ImageFiles.Pattern(16, 30, 3, 2));
        ImageFiles.Png(dir.File("val/a/2.png"), ImageFiles.Pattern(10, 10, 3, 3));
        var ex = Assert.Throws<LopperInputException>(() => ImageFolder.Load(dir.Path, Options()));
        Assert.Contains("1.png: 16x30, but", ex.Message);
        Assert.Contains("--resize", ex.Message);
        var (train, val) = ImageFolder.Load(dir.Path, Options() with { Resize = 8, Crop = 8 });
        Assert.Equal((8, 8), (train.Height, train.Width));
        Assert.Equal((8, 8), (val.Height, val.Width));
        // A solid image stays solid through resize and crop: the values are the decoder's resample, not garbage.
        ImageFiles.Png(dir.File("solid/train/a/0.png"), new DecodedImage(30, 12, 1, Enumerable.Repeat((byte)77, 360).ToArray()));
        ImageFiles.Png(dir.File("solid/val/a/0.png"), new DecodedImage(12, 30, 1, Enumerable.Repeat((byte)77, 360).ToArray()));
        var (s, _) = ImageFolder.Load(dir.File("solid"), Options() with { Resize = 6, Crop = 6 });
        Assert.All(s.Image(0).ToArray(), v => Assert.Equal(77, v));
    }

    [Fact]
    public void CentreCropTakesTheMiddle()
    {
        var im = new DecodedImage(5, 3, 1, Enumerable.Range(0, 15).Select(i => (byte)i).ToArray());
        var c = ImageTransform.ResizeCrop(im, 0, 3, SkiaImageDecoder.Instance, "x");
        Assert.Equal(new byte[] { 1, 2, 3, 6, 7, 8, 11, 12, 13 }, c.Pixels);
    }

    [Fact]
    public void CacheIsReusedAndInvalidatedByEdits()
    {
        using var dir = new TempDir();
        ImageFiles.Folder(dir.File("d"), ["a", "b"], 3, 4, 4, 3);
        var cache = dir.File("cache");
        var (t1, _) = ImageFolder.Load(dir.File("d"), Options(cache));
        var files = Directory.GetFiles(cache);
        Assert.Equal(2, files.Length); // train and val, nothing temporary left behind
        Assert.All(files, f => Assert.EndsWith(".u8", f));
        var stamps = files.Select(File.GetLastWriteTimeUtc).ToArray();
        var (t2, _) = ImageFolder.Load(dir.File("d"), Options(cache));
        Assert.Equal(stamps, Directory.GetFiles(cache).Select(File.GetLastWriteTimeUtc).ToArray());
        Assert.Equal(t1.Pixels.ToArray(), t2.Pixels.ToArray());
        Assert.Equal(t1.Labels.ToArray(), t2.Labels.ToArray());

        // Replace one training image by a different one of the same size: a new key, new pixels.
        var target = Directory.GetFiles(dir.File("d/train/a"))[0];
        ImageFiles.Png(target, ImageFiles.Pattern(4, 4, 3, 999));
        File.SetLastWriteTimeUtc(target, DateTime.UtcNow.AddMinutes(1));
        var (t3, _) = ImageFolder.Load(dir.File("d"), Options(cache));
        Assert.Equal(3, Directory.GetFiles(cache).Length);
        Assert.NotEqual(t1.Pixels.ToArray(), t3.Pixels.ToArray());
        // Other settings are another key too.
        ImageFolder.Load(dir.File("d"), Options(cache) with { Resize = 2, Crop = 2 });
        Assert.Equal(5, Directory.GetFiles(cache).Length);
    }

    [Fact]
    public void ValSplitIsStratifiedSeededAndDisjoint()
    {
        using var dir = new TempDir();
        for (int i = 0; i < 30; i++) ImageFiles.Png(dir.File($"{(i % 3 == 0 ? "a" : "b")}/{i:D3}.png"), ImageFiles.Pattern(2, 2, 1, i));
        var o = Options() with { ValSplit = 0.2, Seed = 5 };
        var (train, val) = ImageFolder.Load(dir.Path, o);
        Assert.Equal(30, train.Count + val.Count);
        Assert.Equal(2, val.Labels.ToArray().Count(l => l == 0)); // 10 of a -> 2
        Assert.Equal(4, val.Labels.ToArray().Count(l => l == 1)); // 20 of b -> 4
        var (_, again) = ImageFolder.Load(dir.Path, o);
        Assert.Equal(val.Pixels.ToArray(), again.Pixels.ToArray());
        var (_, other) = ImageFolder.Load(dir.Path, o with { Seed = 6 });
        Assert.NotEqual(val.Pixels.ToArray(), other.Pixels.ToArray());
        var trainImages = Enumerable.Range(0, train.Count).Select(i => Convert.ToHexString(train.Image(i))).ToHashSet();
        for (int i = 0; i < val.Count; i++) Assert.DoesNotContain(Convert.ToHexString(val.Image(i)), trainImages);
    }

    [Fact]
    public void BadFilesAreNamed()
    {
        using var dir = new TempDir();
        ImageFiles.Folder(dir.Path, ["a", "b"], 1, 4, 4, 1);
        var good = Directory.GetFiles(dir.File("train/a"))[0];
        var bytes = File.ReadAllBytes(good);
        File.WriteAllBytes(dir.File("train/a/trunc.png"), bytes[..(bytes.Length / 2)]);
        var ex = Assert.Throws<LopperInputException>(() => ImageFolder.Load(dir.Path, Options()));
        Assert.Contains("trunc.png", ex.Message);
        File.Delete(dir.File("train/a/trunc.png"));
        File.WriteAllText(dir.File("train/b/notes.png"), "not an image");
        ex = Assert.Throws<LopperInputException>(() => ImageFolder.Load(dir.Path, Options()));
        Assert.Contains("notes.png: not a readable PNG or JPEG", ex.Message);
        File.Delete(dir.File("train/b/notes.png"));
        Directory.CreateDirectory(dir.File("train/c"));
        File.WriteAllText(dir.File("train/c/readme.txt"), "no images here");
        ex = Assert.Throws<LopperInputException>(() => ImageFolder.Load(dir.Path, Options()));
        Assert.Contains($"{dir.File("train/c")}: class folder has no images", ex.Message);
    }
}
