using System.Text.Json;
using System.Text.Json.Nodes;
using Lopper.Data.Images;
using Lopper.Io;

namespace Lopper.Data;

/// <summary>
/// How a model's inputs were prepared in training, saved as preprocessing.json in its model folder so that
/// eval, predict, latency, export and library callers feed it what it was trained on.
/// </summary>
/// <remarks>
/// An image becomes a model input by: decode (grey or RGB), resize so the shorter side is <see cref="Resize"/>
/// (0 = none), centre-crop to <see cref="Crop"/> (0 = none), convert to <see cref="ChannelOrder"/> (grey
/// replicated to RGB; RGB to grey by ITU-R 601 luma), then per channel (v/255 - mean) / std, CHW.
/// </remarks>
public sealed record Preprocessing
{
    /// <summary>File name inside a model folder.</summary>
    public const string FileName = "preprocessing.json";

    /// <summary>Model input shape, [C, H, W].</summary>
    public required int[] InputShape { get; init; }

    /// <summary>"grey" (1 channel) or "rgb" (3 channels, red first).</summary>
    public required string ChannelOrder { get; init; }

    /// <summary>Per-channel mean in 0..1 pixel units.</summary>
    public required float[] Mean { get; init; }

    /// <summary>Per-channel standard deviation in 0..1 pixel units (each &gt; 0).</summary>
    public required float[] Std { get; init; }

    /// <summary>Class names, one per model output, in output order.</summary>
    public required string[] ClassNames { get; init; }

    /// <summary>Shorter side an image is resized to before cropping; 0 = no resize.</summary>
    public int Resize { get; init; }

    /// <summary>Centre-crop size; 0 = no crop.</summary>
    public int Crop { get; init; }

    /// <summary>The dataset the model was trained on (informative).</summary>
    public string? Dataset { get; init; }

    /// <summary>The record of a model trained on <paramref name="train"/> with the given normalisation and geometry.</summary>
    public static Preprocessing For(Dataset train, float[] mean, float[] std, int resize = 0, int crop = 0, string? dataset = null) => new()
    {
        InputShape = [train.Channels, train.Height, train.Width],
        ChannelOrder = train.Channels == 1 ? "grey" : "rgb",
        Mean = (float[])mean.Clone(),
        Std = (float[])std.Clone(),
        ClassNames = train.ClassNames.ToArray(),
        Resize = resize,
        Crop = crop,
        Dataset = dataset ?? train.Name,
    };

    /// <summary>Writes <see cref="FileName"/> into <paramref name="dir"/> (atomically).</summary>
    public void Save(string dir)
    {
        Validate(Path.Combine(dir, FileName));
        var o = new JsonObject
        {
            ["format"] = "lopper-preprocessing-1",
            ["input_shape"] = new JsonArray(InputShape.Select(v => (JsonNode)v).ToArray()),
            ["channel_order"] = ChannelOrder,
            ["mean"] = new JsonArray(Mean.Select(v => (JsonNode)v).ToArray()),
            ["std"] = new JsonArray(Std.Select(v => (JsonNode)v).ToArray()),
            ["class_names"] = new JsonArray(ClassNames.Select(v => (JsonNode)v).ToArray()),
            ["resize"] = Resize,
            ["crop"] = Crop,
            ["pixel_scale"] = "v/255",
            ["layout"] = "NCHW",
        };
        if (Dataset is not null) o["dataset"] = Dataset;
        Directory.CreateDirectory(dir);
        AtomicFile.WriteText(Path.Combine(dir, FileName), o.ToJsonString(new() { WriteIndented = true }));
    }

    /// <summary>Reads <see cref="FileName"/> from a model folder; null when the folder has none (saved before this record existed).</summary>
    /// <exception cref="LopperInputException">The file exists but is malformed; the message names the field.</exception>
    public static Preprocessing? TryLoad(string dir)
    {
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        JsonObject o;
        try { o = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new LopperInputException($"{path}: not a JSON object"); }
        catch (JsonException e) { throw new LopperInputException($"{path}: invalid JSON: {e.Message}"); }
        try
        {
            var p = new Preprocessing
            {
                InputShape = Ints(o, "input_shape", path),
                ChannelOrder = (string?)o["channel_order"] ?? throw Missing("channel_order", path),
                Mean = Floats(o, "mean", path),
                Std = Floats(o, "std", path),
                ClassNames = (o["class_names"] as JsonArray ?? throw Missing("class_names", path)).Select(v => (string?)v ?? throw new LopperInputException($"{path}: class_names must be strings")).ToArray(),
                Resize = (int?)o["resize"] ?? 0,
                Crop = (int?)o["crop"] ?? 0,
                Dataset = (string?)o["dataset"],
            };
            p.Validate(path);
            return p;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new LopperInputException($"{path}: bad field: {e.Message}");
        }
    }

    /// <summary>
    /// Turns decoded images into one normalised input batch [N, C, H, W] (resize, crop, channel conversion, normalisation).
    /// </summary>
    /// <exception cref="LopperInputException">An image does not come out at <see cref="InputShape"/>; the message names its source.</exception>
    public Tensors.Tensor ToBatch(IReadOnlyList<(string Source, DecodedImage Image)> images, IImageDecoder decoder)
    {
        int c = InputShape[0], h = InputShape[1], w = InputShape[2];
        var t = new Tensors.Tensor([images.Count, c, h, w]);
        var chw = new byte[c * h * w];
        for (int i = 0; i < images.Count; i++)
        {
            var (source, raw) = images[i];
            var im = ImageTransform.ResizeCrop(raw, Resize, Crop, decoder, source);
            if (im.Width != w || im.Height != h)
                throw new LopperInputException($"{source}: {im.Width}x{im.Height} after preprocessing, the model takes {w}x{h}" +
                    (Resize == 0 ? " (the model was trained without resizing or cropping, so images must already be that size)" : ""));
            if (c == 1 && im.Channels == 3) im = ToGrey(im);
            ImageTransform.ToChw(im, c, chw);
            var dst = t.Span.Slice(i * chw.Length, chw.Length);
            for (int k = 0; k < chw.Length; k++)
            {
                int ch = k / (h * w);
                dst[k] = (chw[k] / 255f - Mean[ch]) / Std[ch];
            }
        }
        return t;
    }

    private static DecodedImage ToGrey(DecodedImage im)
    {
        var px = new byte[im.Width * im.Height];
        for (int p = 0; p < px.Length; p++)
            px[p] = (byte)Math.Round(0.299 * im.Pixels[3 * p] + 0.587 * im.Pixels[3 * p + 1] + 0.114 * im.Pixels[3 * p + 2]);
        return new DecodedImage(im.Width, im.Height, 1, px);
    }

    private void Validate(string path)
    {
        if (InputShape.Length != 3 || InputShape.Any(v => v < 1)) throw new LopperInputException($"{path}: input_shape must be [C, H, W], positive");
        int c = InputShape[0];
        if (ChannelOrder != (c == 1 ? "grey" : c == 3 ? "rgb" : ChannelOrder)) throw new LopperInputException($"{path}: channel_order '{ChannelOrder}' does not fit {c} channels");
        if (Mean.Length != c || Std.Length != c) throw new LopperInputException($"{path}: mean and std need {c} values each");
        foreach (var s in Std) if (!(s > 0) || !float.IsFinite(s)) throw new LopperInputException($"{path}: std values must be positive");
        foreach (var m in Mean) if (!float.IsFinite(m)) throw new LopperInputException($"{path}: mean values must be finite");
        if (ClassNames.Length < 1) throw new LopperInputException($"{path}: class_names is empty");
        if (Resize < 0 || Crop < 0) throw new LopperInputException($"{path}: resize and crop must be 0 or more");
    }

    private static LopperInputException Missing(string field, string path) => new($"{path}: field '{field}' missing");

    private static int[] Ints(JsonObject o, string field, string path)
        => (o[field] as JsonArray ?? throw Missing(field, path)).Select(v => (int?)v ?? throw new LopperInputException($"{path}: {field} must hold numbers")).ToArray();

    private static float[] Floats(JsonObject o, string field, string path)
        => (o[field] as JsonArray ?? throw Missing(field, path)).Select(v => (float?)v ?? throw new LopperInputException($"{path}: {field} must hold numbers")).ToArray();
}
