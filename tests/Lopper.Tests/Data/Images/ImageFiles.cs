using Lopper.Data.Images;
using Lopper.Imaging;

namespace Lopper.Tests.Data.Images;

/// <summary>Writes small image folders for the reader tests (PNG/JPEG through SkiaSharp's encoder).</summary>
internal static class ImageFiles
{
    /// <summary>A seeded w x h image with <paramref name="channels"/> channels (HWC), different for each seed.</summary>
    public static DecodedImage Pattern(int w, int h, int channels, int seed)
    {
        var px = new byte[w * h * channels];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)((i * 37 + seed * 101 + (i / channels) * seed) % 256);
        return new DecodedImage(w, h, channels, px);
    }

    /// <summary>Writes <paramref name="image"/> as PNG to <paramref name="path"/>, creating folders.</summary>
    public static void Png(string path, DecodedImage image)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, SkiaImageDecoder.EncodePng(image));
    }

    /// <summary>
    /// DIR/train/&lt;class&gt;/ and DIR/val/&lt;class&gt;/ with <paramref name="perClass"/> PNGs per class per split, named
    /// by a global index so the folder order interleaves classes; returns the images written in that index order.
    /// </summary>
    public static List<(string Split, int Label, DecodedImage Image)> Folder(string dir, string[] classes, int perClass, int w, int h, int channels)
    {
        var written = new List<(string, int, DecodedImage)>();
        int index = 0;
        foreach (var split in new[] { "train", "val" })
            for (int i = 0; i < perClass * classes.Length; i++)
            {
                int label = i % classes.Length;
                var im = Pattern(w, h, channels, index);
                Png(Path.Combine(dir, split, classes[label], $"{index:D4}.png"), im);
                written.Add((split, label, im));
                index++;
            }
        return written;
    }
}
