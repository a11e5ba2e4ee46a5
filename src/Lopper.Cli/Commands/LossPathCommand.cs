using System.CommandLine;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Pruning.Directional;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper losspath`: training loss along the straight line (or a quadratic Bezier curve through a bend
/// model) between two models of one graph, e.g. the SGD and gRDA minima trained from the same
/// initialisation: a low, flat profile means both lie in one valley (gRDA paper, section 4.3).
/// </summary>
public static class LossPathCommand
{
    private static readonly Option<string> EndA = Flags.Required("--a", "DIR", "the model at t = 0 (its run.json names the data)");
    private static readonly Option<string> EndB = Flags.Required("--b", "DIR", "the model at t = 1, same graph (e.g. two `lopper train` runs of one model)");
    private static readonly Option<string?> Bend = Flags.Text("--bend", "DIR", "a third model of the same graph: the path becomes (1-t)^2 a + 2t(1-t) bend + t^2 b");
    private static readonly Option<int> Points = Flags.Int("--points", "equally spaced t in [0, 1]", 21, 2);
    private static readonly Option<int> Samples = Flags.Int("--samples", "training images the loss is measured on, in file order, no augmentation", 10000, 1);
    private static readonly Option<int> BnBatches = Flags.Int("--bn-batches", "re-estimate batch-norm statistics at every point from N shuffled training batches (0 keeps the interpolated running statistics)", 20, 0);
    private static readonly Option<string?> Dataset = Flags.Text("--dataset", "NAME", "dataset (default: what --a's run.json says)", Lopper.Data.DataCatalog.Names);
    private static readonly Option<string?> Data = Flags.Text("--data", "DIR", "dataset folder (default: what --a's run.json says)");
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<int> Seed = Flags.Int("--seed", "seed of the batch-norm batches", 0, 0);
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("losspath", "loss along the line or Bezier curve between two models of one graph") { EndA, EndB, Bend, Points, Samples, BnBatches, Dataset, Data, Threads, Seed, Json };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult parse)
    {
        bool json = parse.GetValue(Json);
        CommonOptions.ApplyThreads(parse, Threads);
        string aDir = parse.GetValue(EndA)!, bDir = parse.GetValue(EndB)!;
        int points = parse.GetValue(Points);
        int samples = parse.GetValue(Samples);
        int bnBatches = parse.GetValue(BnBatches);
        ulong seed = (ulong)parse.GetValue(Seed);
        var first = Lopper.Runs.RunFolder.Load(aDir, Lopper.Imaging.SkiaImageDecoder.Instance);
        var firstData = DataFlags.Override(parse.GetValue(Dataset), parse.GetValue(Data), first);
        var second = ModelStore.Load(bDir);
        string? bendDir = parse.GetValue(Bend);
        var bend = bendDir is null ? null : ModelStore.Load(bendDir);

        var (trainSet, _) = DataFlags.Load(first, firstData, "--a");
        var (mean, std) = trainSet.ChannelStats();
        int measuredCount = Math.Min(samples, trainSet.Count);
        var measured = new DataLoader(trainSet.Slice(0, measuredCount), 500, seed, shuffle: false, mean, std);
        var bnData = new DataLoader(trainSet, 128, seed, shuffle: true, mean, std);
        Model A = first.Model, B = second;
        Func<double, Model> pointAt = bend is null ? t => LossPath.Line(A, B, t) : t => LossPath.Bezier(A, bend, B, t);
        var path = LossPath.Evaluate(pointAt, measured, points, bnData, bnBatches, seed);

        var rows = new JsonArray();
        double length = 0, maxLoss = double.MinValue;
        foreach (var p in path)
        {
            length += p.Distance;
            maxLoss = Math.Max(maxLoss, p.Loss);
            rows.Add(new JsonObject { ["t"] = p.T, ["train_loss"] = p.Loss, ["train_accuracy"] = p.Accuracy, ["step_distance"] = p.Distance });
            if (!json) Console.Error.WriteLine($"t {p.T:F3}  train loss {p.Loss:F4}  accuracy {p.Accuracy * 100:F2}%");
        }
        var result = new JsonObject
        {
            ["a"] = Path.GetFullPath(aDir),
            ["b"] = Path.GetFullPath(bDir),
            ["bend"] = bendDir is null ? null : Path.GetFullPath(bendDir),
            ["curve"] = bend is null ? "line" : "bezier",
            ["samples"] = measuredCount,
            ["bn_batches"] = bnBatches,
            ["endpoint_distance"] = LossPath.Distance(A, B),
            ["path_length"] = length,
            ["loss_a"] = path[0].Loss,
            ["loss_b"] = path[^1].Loss,
            ["max_loss"] = maxLoss,
            ["barrier"] = maxLoss - Math.Max(path[0].Loss, path[^1].Loss),
            ["points"] = rows,
        };
        if (json) JsonOutput.Print(result);
        else Console.WriteLine($"{result["curve"]} from a to b: loss {path[0].Loss:F4} -> max {maxLoss:F4} -> {path[^1].Loss:F4} (barrier {(double)result["barrier"]!:F4}), path length {length:F3}");
        return 0;
    }
}
