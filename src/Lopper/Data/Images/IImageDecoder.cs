namespace Lopper.Data.Images;

/// <summary>
/// Decodes and resizes image files for <see cref="ImageFolder"/> and prediction. The core library has no
/// decoder of its own (it keeps no native dependency); Lopper.Imaging's <c>SkiaImageDecoder</c> is the
/// implementation the CLI uses.
/// </summary>
public interface IImageDecoder
{
    /// <summary>Decodes a PNG or JPEG file (8-bit grey, RGB or RGBA).</summary>
    /// <exception cref="LopperInputException">The file is unreadable, truncated or not a supported image; the message names it.</exception>
    DecodedImage Decode(string path);

    /// <summary>Resamples <paramref name="image"/> to <paramref name="width"/> x <paramref name="height"/> (same channels).</summary>
    DecodedImage Resize(DecodedImage image, int width, int height);
}
