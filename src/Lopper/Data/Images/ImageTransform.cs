namespace Lopper.Data.Images;

/// <summary>
/// The deterministic part of image preprocessing: resize (shorter side) then centre crop, and the HWC-to-CHW
/// layout change. Shared by the folder reader and by prediction, so a model sees its training geometry.
/// </summary>
public static class ImageTransform
{
    /// <summary>
    /// Applies resize (shorter side to <paramref name="resize"/>, 0 = off) and centre crop (<paramref name="crop"/>, 0 = off).
    /// </summary>
    /// <exception cref="LopperInputException">The image is smaller than the crop; the message names <paramref name="source"/>.</exception>
    public static DecodedImage ResizeCrop(DecodedImage image, int resize, int crop, IImageDecoder decoder, string source)
    {
        if (resize > 0)
        {
            int w = image.Width, h = image.Height;
            // Shorter side to `resize`, the longer one scaled to keep the aspect (rounded as torchvision does: truncation).
            var (nw, nh) = w <= h ? (resize, Math.Max(1, (int)((long)h * resize / w))) : (Math.Max(1, (int)((long)w * resize / h)), resize);
            image = decoder.Resize(image, nw, nh);
        }
        if (crop > 0)
        {
            if (image.Width < crop || image.Height < crop)
                throw LopperInputException.ForOptions<DataOptions>($"{source}: {image.Width}x{image.Height} is smaller than Crop {crop} (add Resize {crop})", "Resize", "Crop");
            int x0 = (int)Math.Round((image.Width - crop) / 2.0), y0 = (int)Math.Round((image.Height - crop) / 2.0);
            int c = image.Channels;
            var px = new byte[crop * crop * c];
            for (int y = 0; y < crop; y++)
                image.Pixels.AsSpan(((y0 + y) * image.Width + x0) * c, crop * c).CopyTo(px.AsSpan(y * crop * c));
            image = new DecodedImage(crop, crop, c, px);
        }
        return image;
    }

    /// <summary>Writes an HWC image as CHW bytes into <paramref name="dst"/>, replicating grey into <paramref name="channels"/> = 3.</summary>
    public static void ToChw(DecodedImage image, int channels, Span<byte> dst)
    {
        int plane = image.Width * image.Height, c0 = image.Channels;
        var src = image.Pixels;
        for (int c = 0; c < channels; c++)
        {
            int sc = c0 == 1 ? 0 : c;
            var d = dst.Slice(c * plane, plane);
            for (int p = 0; p < plane; p++) d[p] = src[p * c0 + sc];
        }
    }
}
