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
    private const string Usage = """
        lopper losspath --a DIR --b DIR [--bend DIR] [--points N] [--samples N] [--bn-batches N] [--json]
          --a, --b      the end points (t = 0 and t = 1); same graph (e.g. two `lopper train` runs of one model)
          --bend        a third model of the same graph: the path becomes (1-t)^2 a + 2t(1-t) bend + t^2 b
          --points N    equally spaced t in [0, 1] (default 21)
          --samples N   training images the loss is measured on, in file order, no augmentation (default 10000)
          --bn-batches N  re-estimate batch-norm statistics at every point from N shuffled training batches
                        (default 20; 0 keeps the interpolated running statistics)
          data:         --dataset NAME --data DIR (default: what --a's run.json says)  --threads N --seed N
        """;

    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "json", "help" });
        if (a.Flag("help")) { Console.WriteLine(Usage); return 0; }
        bool json = a.Flag("json");
        CommonOptions.ApplyThreads(a);
        string aDir = a.Required("a"), bDir = a.Required("b");
        var first = Lopper.Runs.RunFolder.Load(aDir, Lopper.Imaging.SkiaImageDecoder.Instance);
        var firstData = DataFlags.Override(a, first);
        var second = ModelStore.Load(bDir);
        string? bendDir = a.Str("bend");
        var bend = bendDir is null ? null : ModelStore.Load(bendDir);
        int points = a.Int("points", 21, 2);
        int samples = a.Int("samples", 10000, 1);
        int bnBatches = a.Int("bn-batches", 20, 0);
        ulong seed = (ulong)a.Int("seed", 0, 0);
        a.EnsureAllUsed();

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
