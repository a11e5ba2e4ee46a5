using Lopper.Data.Images;
using SkiaSharp;

namespace Lopper.Imaging;

/// <summary>
/// <see cref="IImageDecoder"/> on SkiaSharp: PNG and JPEG, 8-bit grey, RGB or RGBA. Greyscale files stay one
/// channel; colour files become RGB with alpha dropped. Thread-safe (no shared state).
/// </summary>
public sealed class SkiaImageDecoder : IImageDecoder
{
    /// <summary>A shared instance.</summary>
    public static SkiaImageDecoder Instance { get; } = new();

    /// <inheritdoc/>
    public DecodedImage Decode(string path)
    {
        try
        {
            return DecodeFile(path);
        }
        catch (Exception e) when (e is not (LopperInputException or OutOfMemoryException))
        {
            // Whatever the native decoder throws is still a bad file, reported as one line naming it.
            throw new LopperInputException($"{path}: cannot decode image ({e.GetType().Name}: {e.Message})");
        }
    }

    private static DecodedImage DecodeFile(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LopperInputException($"{path}: cannot read ({e.Message})");
        }
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        if (codec is null) throw new LopperInputException($"{path}: not a readable PNG or JPEG image");
        if (codec.EncodedFormat is not (SKEncodedImageFormat.Png or SKEncodedImageFormat.Jpeg))
            throw new LopperInputException($"{path}: {codec.EncodedFormat} images are not supported (PNG or JPEG)");
        int w = codec.Info.Width, h = codec.Info.Height;
        if (w < 1 || h < 1) throw new LopperInputException($"{path}: image has no pixels");
        bool grey = codec.Info.ColorType == SKColorType.Gray8;
        var info = new SKImageInfo(w, h, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, grey ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        var raw = new byte[(long)info.BytesSize64 > int.MaxValue ? throw new LopperInputException($"{path}: {w}x{h} is too large") : info.BytesSize];
        SKCodecResult result;
        unsafe
        {
            fixed (byte* p = raw) result = codec.GetPixels(info, (IntPtr)p);
        }
        // IncompleteInput is Skia's "decoded what was there and filled the rest": a truncated file.
        if (result != SKCodecResult.Success)
            throw new LopperInputException($"{path}: {(result == SKCodecResult.IncompleteInput ? "truncated image" : "cannot decode image")} ({result})");
        if (grey) return new DecodedImage(w, h, 1, raw);
        var rgb = new byte[w * h * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = raw[j];
            rgb[i + 1] = raw[j + 1];
            rgb[i + 2] = raw[j + 2];
        }
        return new DecodedImage(w, h, 3, rgb);
    }

    /// <inheritdoc/>
    public DecodedImage Resize(DecodedImage image, int width, int height)
    {
        if (width == image.Width && height == image.Height) return image;
        using var src = ToBitmap(image);
        var info = new SKImageInfo(width, height, src.ColorType, src.AlphaType);
        using var dst = new SKBitmap(info);
        // Linear filtering with mipmaps: the area-averaging a downscale needs, bilinear when enlarging.
        if (!src.ScalePixels(dst, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear)))
            throw new LopperRunException($"resize {image.Width}x{image.Height} -> {width}x{height} failed");
        return FromBitmap(dst, image.Channels);
    }

    /// <summary>Encodes an HWC grey or RGB image as PNG (used to write datasets out as image folders).</summary>
    public static byte[] EncodePng(DecodedImage image)
    {
        using var bmp = ToBitmap(image);
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Encodes an HWC grey or RGB image as JPEG at <paramref name="quality"/> (0..100).</summary>
    public static byte[] EncodeJpeg(DecodedImage image, int quality = 90)
    {
        using var bmp = ToBitmap(image);
        using var data = bmp.Encode(SKEncodedImageFormat.Jpeg, quality);
        return data.ToArray();
    }

    private static SKBitmap ToBitmap(DecodedImage image)
    {
        bool grey = image.Channels == 1;
        var info = new SKImageInfo(image.Width, image.Height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, grey ? SKAlphaType.Opaque : SKAlphaType.Opaque);
        var bmp = new SKBitmap(info);
        var dst = bmp.GetPixelSpan();
        if (grey)
        {
            for (int y = 0; y < image.Height; y++)
                image.Pixels.AsSpan(y * image.Width, image.Width).CopyTo(dst.Slice(y * bmp.RowBytes, image.Width));
        }
        else
        {
            for (int y = 0; y < image.Height; y++)
            {
                var row = dst.Slice(y * bmp.RowBytes, image.Width * 4);
                var src = image.Pixels.AsSpan(y * image.Width * 3, image.Width * 3);
                for (int x = 0; x < image.Width; x++)
                {
                    row[x * 4] = src[x * 3];
                    row[x * 4 + 1] = src[x * 3 + 1];
                    row[x * 4 + 2] = src[x * 3 + 2];
                    row[x * 4 + 3] = 255;
                }
            }
        }
        return bmp;
    }

    private static DecodedImage FromBitmap(SKBitmap bmp, int channels)
    {
        int w = bmp.Width, h = bmp.Height;
        var src = bmp.GetPixelSpan();
        var px = new byte[w * h * channels];
        for (int y = 0; y < h; y++)
        {
            var row = src.Slice(y * bmp.RowBytes);
            if (channels == 1) row[..w].CopyTo(px.AsSpan(y * w, w));
            else
                for (int x = 0; x < w; x++)
                {
                    px[(y * w + x) * 3] = row[x * 4];
                    px[(y * w + x) * 3 + 1] = row[x * 4 + 1];
                    px[(y * w + x) * 3 + 2] = row[x * 4 + 2];
                }
        }
        return new DecodedImage(w, h, channels, px);
    }
}
