using System.Globalization;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Imaging;

namespace Lopper.Cli.Commands;

/// <summary>
/// The user-data flags (--resize, --crop, --val-split, --mean, --std) and how they are recorded in run.json
/// ("data_options") so prune, finetune, eval and resume read the same data again.
/// </summary>
public static class DataFlags
{
    /// <summary>Reads --resize, --crop and --val-split; the image decoder is SkiaSharp's.</summary>
    public static DataOptions Read(Args a, ulong seed) => new()
    {
        Resize = a.Int("resize", 0, 0),
        Crop = a.Int("crop", 0, 0),
        ValSplit = a.Real("val-split", 0, 0, 0.99),
        Seed = seed,
        Decoder = SkiaImageDecoder.Instance,
    };

    /// <summary>The options a run recorded (defaults for runs before they were recorded).</summary>
    public static DataOptions FromRun(JsonObject run) => run["data_options"] is JsonObject o
        ? new DataOptions
        {
            Resize = (int?)o["resize"] ?? 0,
            Crop = (int?)o["crop"] ?? 0,
            ValSplit = (double?)o["val_split"] ?? 0,
            Seed = (ulong?)o["seed"] ?? 0,
            RandomResizedCrop = (bool?)o["random_resized_crop"] ?? false,
            Decoder = SkiaImageDecoder.Instance,
        }
        : new DataOptions { Decoder = SkiaImageDecoder.Instance };

    /// <summary>run.json form of <paramref name="o"/>.</summary>
    public static JsonObject ToJson(DataOptions o) => new() { ["resize"] = o.Resize, ["crop"] = o.Crop, ["val_split"] = o.ValSplit, ["seed"] = o.Seed, ["random_resized_crop"] = o.RandomResizedCrop };

    /// <summary>--mean/--std as comma-separated per-channel values in 0..1 units; null when not given (statistics of the training split).</summary>
    public static (float[]? Mean, float[]? Std) ReadNormalisation(Args a, int channels)
    {
        var mean = Floats(a, "mean");
        var std = Floats(a, "std");
        if ((mean is null) != (std is null)) throw new LopperInputException("--mean and --std go together");
        if (mean is null) return (null, null);
        if (mean.Length != channels || std!.Length != channels)
            throw new LopperInputException($"--mean and --std need {channels} value(s) each (one per channel), got {mean.Length} and {std!.Length}");
        foreach (var s in std) if (!(s > 0)) throw new LopperInputException($"--std values must be positive, got {s}");
        return (mean, std);
    }

    /// <summary>A comma-separated list of finite numbers given as --NAME, or null when the flag is absent.</summary>
    public static float[]? Floats(Args a, string name)
    {
        var s = a.Str(name);
        if (s is null) return null;
        var parts = s.Split(',', StringSplitOptions.TrimEntries);
        var r = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out r[i]) || !float.IsFinite(r[i]))
                throw new LopperInputException($"--{name} must be comma-separated numbers (0..1 pixel units), got '{s}'");
        return r;
    }

    /// <summary>Copies OUT/preprocessing.json into the model folders a run wrote below OUT (best/, compacted/).</summary>
    public static void SpreadPreprocessing(Preprocessing pre, string outDir)
    {
        if (!Directory.Exists(outDir)) return;
        foreach (var sub in Directory.GetDirectories(outDir))
            if (File.Exists(Path.Combine(sub, Lopper.Io.ModelStore.GraphFile))) pre.Save(sub);
    }

    private static bool _saidNoRecord;

    /// <summary>The folder's preprocessing record; when absent, says once per process that today's defaults apply.</summary>
    public static Preprocessing? LoadPreprocessing(string dir)
    {
        var pre = Preprocessing.TryLoad(dir);
        if (pre is null && !_saidNoRecord)
        {
            _saidNoRecord = true;
            Console.Error.WriteLine($"note: {dir} has no {Preprocessing.FileName} (saved by an older lopper): normalising with the training split's statistics, as before");
        }
        return pre;
    }
}
