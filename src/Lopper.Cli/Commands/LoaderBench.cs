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
    /// <summary>Help text.</summary>
    public const string Usage = "lopper bench loader --dataset NAME --data DIR [--resize N] [--crop N] [--batch B (128)] [--batches N (200)] [--augment] [--random-resized-crop] [--no-cache] [--threads T] [--json]";

    /// <summary>Runs the measurement.</summary>
    public static JsonObject Run(Args a)
    {
        string dataset = a.Str("dataset", "fashion-mnist");
        int batch = a.Int("batch", 128, 1), batches = a.Int("batches", 200, 1);
        bool augment = a.Flag("augment"), rrc = a.Flag("random-resized-crop");
        var options = DataFlags.Read(a, 0) with { UseCache = !a.Flag("no-cache") };
        var sw = Stopwatch.StartNew();
        var splits = CommonOptions.LoadData(dataset, a.Str("data"), options);
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
