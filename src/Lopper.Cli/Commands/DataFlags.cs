using System.Globalization;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Imaging;
using Lopper.Runs;

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

    /// <summary>
    /// The data a derived run (prune, finetune, eval) reads: the source's recorded data, with --dataset and --data
    /// overriding its name and folder; null when neither the flags nor the source name a dataset.
    /// </summary>
    public static DataSpec? Override(Args a, RunFolder source)
    {
        string? dataset = a.Str("dataset"), dir = a.Str("data");
        if (dataset is null && dir is null) return source.Data;
        var d = source.Data ?? new DataSpec { Options = new DataOptions { Decoder = SkiaImageDecoder.Instance } };
        return d with { Dataset = dataset ?? source.Data?.Dataset ?? "fashion-mnist", Dir = dir ?? d.Dir };
    }

    /// <summary>The splits of <paramref name="data"/> for <paramref name="source"/>'s model (checked against its shape and classes); notices go to stderr.</summary>
    public static DataSplits Load(RunFolder source, DataSpec? data, string flag = "--from")
        => source.LoadData(data ?? throw new LopperInputException($"{flag} {source.Dir} names no dataset: give --dataset NAME (and --data DIR)"), s => Console.Error.WriteLine(s));

    /// <summary>--mean/--std as comma-separated per-channel values in 0..1 units; null when not given (statistics of the training split). A <paramref name="channels"/> of 0 or less leaves the count to be checked against the data.</summary>
    public static (float[]? Mean, float[]? Std) ReadNormalisation(Args a, int channels)
    {
        var mean = Floats(a, "mean");
        var std = Floats(a, "std");
        if ((mean is null) != (std is null)) throw new LopperInputException("--mean and --std go together");
        if (mean is null) return (null, null);
        if (channels > 0 && (mean.Length != channels || std!.Length != channels))
            throw new LopperInputException($"--mean and --std need {channels} value(s) each (one per channel), got {mean.Length} and {std!.Length}");
        foreach (var s in std!) if (!(s > 0)) throw new LopperInputException($"--std values must be positive, got {s}");
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
