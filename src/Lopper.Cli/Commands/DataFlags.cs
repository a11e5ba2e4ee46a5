using System.CommandLine;
using Lopper.Data;
using Lopper.Imaging;
using Lopper.Runs;

namespace Lopper.Cli.Commands;

/// <summary>
/// The user-data flags (--resize, --crop, --val-split, --mean, --std) and how a derived run (prune, finetune, eval)
/// finds its data: the source's recorded data, with --dataset and --data overriding its name and folder.
/// </summary>
public sealed class DataFlags
{
    /// <summary>--resize N.</summary>
    public Option<int> Resize { get; } = Flags.Int("--resize", "resize the shorter side to N pixels (0 = as stored)", 0, 0);

    /// <summary>--crop N.</summary>
    public Option<int> Crop { get; } = Flags.Int("--crop", "centre crop to NxN (0 = none)", 0, 0);

    /// <summary>--val-split F.</summary>
    public Option<double> ValSplit { get; } = Flags.Real("--val-split", "hold out this fraction of each class as the validation split (seeded; 0 = the data's own)", 0, 0, 0.99);

    /// <summary>The three flags, to add to a command.</summary>
    public IEnumerable<Option> Symbols => [Resize, Crop, ValSplit];

    /// <summary>The data options the flags give; the image decoder is SkiaSharp's.</summary>
    public DataOptions Read(ParseResult p, ulong seed) => new()
    {
        Resize = p.GetValue(Resize),
        Crop = p.GetValue(Crop),
        ValSplit = p.GetValue(ValSplit),
        Seed = seed,
        Decoder = SkiaImageDecoder.Instance,
    };

    /// <summary>
    /// The data a derived run reads: the source's recorded data, with <paramref name="dataset"/> and <paramref name="dir"/>
    /// (--dataset, --data) overriding its name and folder; null when neither the flags nor the source name a dataset.
    /// </summary>
    public static DataSpec? Override(string? dataset, string? dir, RunFolder source)
    {
        if (dataset is null && dir is null) return source.Data;
        var d = source.Data ?? new DataSpec { Options = new DataOptions { Decoder = SkiaImageDecoder.Instance } };
        return d with { Dataset = dataset ?? source.Data?.Dataset ?? "fashion-mnist", Dir = dir ?? d.Dir };
    }

    /// <summary>The splits of <paramref name="data"/> for <paramref name="source"/>'s model (checked against its shape and classes); notices go to stderr.</summary>
    public static DataSplits Load(RunFolder source, DataSpec? data, string flag = "--from")
        => source.LoadData(data ?? throw new LopperInputException($"{flag} {source.Dir} names no dataset: give --dataset NAME (and --data DIR)"), s => Console.Error.WriteLine(s));

    /// <summary>--mean/--std: null when neither is given (statistics of the training split). A <paramref name="channels"/> of 0 or less leaves the count to be checked against the data.</summary>
    public static (float[]? Mean, float[]? Std) Normalisation(float[]? mean, float[]? std, int channels)
    {
        if ((mean is null) != (std is null)) throw new LopperInputException("--mean and --std go together");
        if (mean is null) return (null, null);
        if (channels > 0 && (mean.Length != channels || std!.Length != channels))
            throw new LopperInputException($"--mean and --std need {channels} value(s) each (one per channel), got {mean.Length} and {std!.Length}");
        foreach (var s in std!) if (!(s > 0)) throw new LopperInputException($"--std values must be positive, got {s}");
        return (mean, std);
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
