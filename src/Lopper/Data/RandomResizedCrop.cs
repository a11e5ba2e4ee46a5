namespace Lopper.Data;

/// <summary>
/// torchvision's RandomResizedCrop for <see cref="DataLoader"/>: pick a box covering 8-100% of the image with an
/// aspect ratio between 3/4 and 4/3 (log-uniform; ten tries, then the centred largest box that fits the ratio range),
/// and resample it bilinearly to the full HxW.
/// </summary>
internal static class RandomResizedCrop
{
    /// <summary>A crop box in source pixels.</summary>
    internal readonly record struct Box(int X, int Y, int W, int H);

    private const double MinScale = 0.08, MaxScale = 1.0;
    private static readonly double LogRatioMin = Math.Log(3.0 / 4), LogRatioMax = Math.Log(4.0 / 3);

    /// <summary>Draws one box; always draws the same count of numbers per try so the stream stays aligned.</summary>
    public static Box Sample(Tensors.Rng rng, int height, int width)
    {
        double area = (double)height * width;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (MinScale + (MaxScale - MinScale) * rng.NextDouble());
            double ratio = Math.Exp(LogRatioMin + (LogRatioMax - LogRatioMin) * rng.NextDouble());
            int w = (int)Math.Round(Math.Sqrt(target * ratio));
            int h = (int)Math.Round(Math.Sqrt(target / ratio));
            if (w > 0 && h > 0 && w <= width && h <= height)
                return new Box(rng.NextInt(width - w + 1), rng.NextInt(height - h + 1), w, h);
        }
        // Fallback as torchvision: the whole image clipped to the ratio range, centred.
        double inRatio = (double)width / height;
        int cw = width, ch = height;
        if (inRatio < 3.0 / 4) ch = (int)Math.Round(width / (3.0 / 4));
        else if (inRatio > 4.0 / 3) cw = (int)Math.Round(height * (4.0 / 3));
        return new Box((width - cw) / 2, (height - ch) / 2, cw, ch);
    }

    /// <summary>Writes the box resampled to HxW (bilinear, pixel centres aligned), normalised through <paramref name="lut"/>, optionally flipped.</summary>
    public static void Fill(ReadOnlySpan<byte> src, Span<float> dst, float[] lut, int channels, int height, int width, Box box, bool flip)
    {
        int plane = height * width;
        double sx = (double)box.W / width, sy = (double)box.H / height;
        for (int c = 0; c < channels; c++)
        {
            var table = new ReadOnlySpan<float>(lut, c * 256, 256);
            var s = src.Slice(c * plane, plane);
            for (int y = 0; y < height; y++)
            {
                double fy = Math.Clamp(box.Y + (y + 0.5) * sy - 0.5, 0, height - 1);
                int y0 = (int)fy, y1 = Math.Min(y0 + 1, height - 1);
                float wy = (float)(fy - y0);
                var row = dst.Slice(c * plane + y * width, width);
                for (int x = 0; x < width; x++)
                {
                    double fx = Math.Clamp(box.X + (x + 0.5) * sx - 0.5, 0, width - 1);
                    int x0 = (int)fx, x1 = Math.Min(x0 + 1, width - 1);
                    float wx = (float)(fx - x0);
                    float top = table[s[y0 * width + x0]] * (1 - wx) + table[s[y0 * width + x1]] * wx;
                    float bottom = table[s[y1 * width + x0]] * (1 - wx) + table[s[y1 * width + x1]] * wx;
                    row[flip ? width - 1 - x : x] = top * (1 - wy) + bottom * wy;
                }
            }
        }
    }
}
