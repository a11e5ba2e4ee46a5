using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Data;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper bench loader`: how fast the data side runs, to compare with a model's training images/second
/// (`lopper bench --model ...`): the time to open the data (decode on a cold cache, memory-map on a warm one) and
/// the training loader's images/second (normalisation and the chosen augmentation, batches built as training does).
/// </summary>
public static class LoaderBench
{
    private static readonly Option<string?> Dataset = Flags.Text("--dataset", "NAME", "dataset [default: fashion-mnist]", DataCatalog.Names);
    private static readonly Option<string?> Data = Flags.Text("--data", "DIR", "dataset folder");
    private static readonly DataFlags DataOptions = new();
    private static readonly Option<int> Batch = Flags.Int("--batch", "images per batch", 128, 1, CommonOptions.MaxBatch, "B");
    private static readonly Option<int> Batches = Flags.Int("--batches", "batches to time", 200, 1);
    private static readonly Option<bool> Augment = Flags.Switch("--augment", "random crop with 4-pixel padding + horizontal flips");
    private static readonly Option<bool> RandomResizedCrop = Flags.Switch("--random-resized-crop", "random area 8-100%, aspect 3/4-4/3, back to HxW");
    private static readonly Option<bool> NoCache = Flags.Switch("--no-cache", "decode the images again instead of memory-mapping the decoded cache");

    /// <summary>The subcommand (bench runs it on --threads and prints its result).</summary>
    public static Command Create(Func<ParseResult, Func<ParseResult, JsonObject>, int> measure)
    {
        var cmd = new Command("loader", "time to open a dataset and the training loader's images/second");
        foreach (var o in (Option[])[Dataset, Data, .. DataOptions.Symbols, Batch, Batches, Augment, RandomResizedCrop, NoCache]) cmd.Options.Add(o);
        cmd.SetAction(parse => measure(parse, Run));
        return cmd;
    }

    private static JsonObject Run(ParseResult a)
    {
        string dataset = a.GetValue(Dataset) ?? "fashion-mnist";
        int batch = a.GetValue(Batch), batches = a.GetValue(Batches);
        bool augment = a.GetValue(Augment), rrc = a.GetValue(RandomResizedCrop);
        var options = DataOptions.Read(a, 0) with { UseCache = !a.GetValue(NoCache) };
        var sw = Stopwatch.StartNew();
        var splits = CommonOptions.LoadData(dataset, a.GetValue(Data), options);
        var train = splits.Train;
        double openSeconds = sw.Elapsed.TotalSeconds;
        var (mean, std) = train.ChannelStats();
        var loader = new DataLoader(train, batch, 1, shuffle: true, mean, std, cropPadding: augment ? 4 : 0, flip: augment);
        if (rrc) loader = loader.WithRandomResizedCrop();
        // One warm-up batch, then as many batches as asked for, walking epochs as training does.
        loader.GetBatch(0, 0).Dispose();
        sw.Restart();
        long images = 0;
        for (int i = 0; i < batches; i++)
        {
            using var b = loader.GetBatch(i / loader.BatchesPerEpoch, i % loader.BatchesPerEpoch);
            images += b.Count;
        }
        double seconds = sw.Elapsed.TotalSeconds;
        return new JsonObject
        {
            ["bench"] = "loader", ["dataset"] = dataset, ["source"] = splits.Source,
            ["images"] = train.Count, ["shape"] = $"{train.Channels}x{train.Height}x{train.Width}",
            ["open_seconds"] = openSeconds, ["batch"] = batch, ["batches"] = batches,
            ["augment"] = augment ? "crop-pad-4+flip" : rrc ? "random-resized-crop" : "none",
            ["random_resized_crop"] = rrc, ["cache"] = options.UseCache,
            ["loader_images_per_second"] = images / seconds,
        };
    }
}
