using System.CommandLine;
using System.Text;
using Lopper.Data;
using Lopper.Data.Images;
using Lopper.Imaging;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper export-images`: writes a dataset out as an image folder (OUT/train/&lt;class&gt;/NNNNN.png and
/// OUT/val/...), for `--dataset imagefolder` round trips and as a template for one's own data. Class folders are
/// named "LL-name" so their sorted order is the label order, and files by their index so the folder reads back in
/// the original order.
/// </summary>
public static class ExportImagesCommand
{
    private static readonly Option<string> Out = Flags.Required("--out", "DIR", "the folder to write (must not exist or be empty)");
    private static readonly Option<string?> Dataset = Flags.Text("--dataset", "NAME", "dataset [default: fashion-mnist]", DataCatalog.Names);
    private static readonly Option<string?> Data = Flags.Text("--data", "DIR", "dataset folder");
    private static readonly Option<int[]?> Classes = Flags.Ints("--classes", "N,N,...", "the classes to write, e.g. 0,2,4 (default: all)");
    private static readonly Option<int> Limit = Flags.Int("--limit", "first N training images (0 = all)", 0, 0);
    private static readonly Option<int> ValLimit = Flags.Int("--val-limit", "first N validation images (0 = all)", 0, 0);
    private static readonly Option<string> Format = Flags.Choice("--format", "image format", "png", "jpg");
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("export-images", "write a dataset out as an image folder (train/ and val/ class folders)") { Out, Dataset, Data, Classes, Limit, ValLimit, Format, Threads, Json };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string outDir = p.GetValue(Out)!;
        string dataset = p.GetValue(Dataset) ?? "fashion-mnist";
        string? dataDir = p.GetValue(Data);
        var keep = p.ValueOrNull(Classes) ?? [];
        int limit = p.GetValue(Limit), valLimit = p.GetValue(ValLimit);
        string format = p.GetValue(Format)!;
        CommonOptions.ApplyThreads(p, Threads);
        bool json = p.GetValue(Json);
        var (train, test) = CommonOptions.LoadData(dataset, dataDir, new DataOptions { Decoder = SkiaImageDecoder.Instance });
        if (keep.Length == 0) keep = Enumerable.Range(0, train.ClassCount).ToArray();
        foreach (int k in keep)
            if ((uint)k >= (uint)train.ClassCount) throw new LopperInputException($"--classes: {k} is out of range for {train.ClassCount} classes");
        if (keep.Distinct().Count() != keep.Length) throw new LopperInputException("--classes lists a class twice");
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any()) throw new LopperInputException($"--out {outDir}: folder exists and is not empty");
        int written = Write(train, Path.Combine(outDir, "train"), keep, limit, format) + Write(test, Path.Combine(outDir, "val"), keep, valLimit, format);
        if (json) JsonOutput.Print(new System.Text.Json.Nodes.JsonObject { ["images"] = written, ["classes"] = keep.Length, ["out"] = Path.GetFullPath(outDir) });
        else Console.WriteLine($"wrote {written} images of {keep.Length} classes to {outDir}");
        return 0;
    }

    /// <summary>Folder name of class <paramref name="newLabel"/>: "LL-name", safe for a file system.</summary>
    public static string FolderName(int newLabel, string name)
    {
        var sb = new StringBuilder();
        foreach (char ch in name) sb.Append(char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' ? ch : '-');
        return $"{newLabel:D2}-{sb}";
    }

    private static int Write(Dataset data, string dir, int[] keep, int limit, string format)
    {
        var map = new int[data.ClassCount];
        Array.Fill(map, -1);
        for (int i = 0; i < keep.Length; i++)
        {
            map[keep[i]] = i;
            Directory.CreateDirectory(Path.Combine(dir, FolderName(i, data.ClassNames[keep[i]])));
        }
        int n = limit > 0 ? Math.Min(limit, data.Count) : data.Count;
        int digits = Math.Max(5, n.ToString().Length);
        int c = data.Channels, h = data.Height, w = data.Width, plane = h * w;
        int written = 0;
        var chosen = Enumerable.Range(0, n).Where(i => map[data.Label(i)] >= 0).ToArray();
        Parallelism.For(Math.Min(chosen.Length, Parallelism.Threads * 4), k =>
        {
            int start = (int)((long)chosen.Length * k / Math.Min(chosen.Length, Parallelism.Threads * 4));
            int end = (int)((long)chosen.Length * (k + 1) / Math.Min(chosen.Length, Parallelism.Threads * 4));
            var hwc = new byte[c * plane];
            for (int j = start; j < end; j++)
            {
                int i = chosen[j];
                var src = data.Image(i);
                for (int ch = 0; ch < c; ch++)
                    for (int p = 0; p < plane; p++) hwc[p * c + ch] = src[ch * plane + p];
                var image = new DecodedImage(w, h, c, (byte[])hwc.Clone());
                byte[] bytes = format == "png" ? SkiaImageDecoder.EncodePng(image) : SkiaImageDecoder.EncodeJpeg(image, 95);
                int label = map[data.Label(i)];
                File.WriteAllBytes(Path.Combine(dir, FolderName(label, data.ClassNames[keep[label]]), i.ToString($"D{digits}") + "." + format), bytes);
                Interlocked.Increment(ref written);
            }
        });
        return written;
    }
}
