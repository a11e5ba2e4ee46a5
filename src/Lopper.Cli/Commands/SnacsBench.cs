using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Pruning.Snacs;
using Lopper.Tensors;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper bench snacs-estimator`: times SNACS's hash estimator and MINT's O(N²) estimator scoring the same layer
/// pair (all G × G connections; default shape of VGG16's conv9, 512 × 512 channels) on the same seeded synthetic
/// activations, and reports MINT time / SNACS time, as the SNACS authors' timing study does (score computation only).
/// </summary>
public static class SnacsBench
{
    private static readonly Option<int> ProbePerClass = Flags.Int("--probe-per-class", "probe images per class", 200, 2);
    private static readonly Option<int> Classes = Flags.Int("--classes", "classes of the synthetic activations", 10, 2, valueName: "K");
    private static readonly Option<int> Groups = Flags.Int("--groups", "groups per layer", 16, 1, valueName: "G");
    private static readonly Option<int> In = Flags.Int("--in", "parent channels of the synthetic pair", 512, 1, valueName: "C");
    private static readonly Option<int> Out = Flags.Int("--out", "child channels of the synthetic pair", 512, 1, valueName: "C2");
    private static readonly Option<int> Seed = Flags.Int("--seed", "seed", 1, 0, valueName: "S");
    private static readonly Option<string?> Estimators = Flags.Text("--estimators", "hash,mint", "estimators to time [default: hash,mint]");
    private static readonly Option<double> Gamma = Flags.Real("--gamma", "hash estimator's gamma", new HashCmiOptions().Gamma, 1e-6);
    private static readonly Option<string?> From = Flags.Text("--from", "RUN", "real probe activations of this run folder instead of synthetic ones");
    private static readonly Option<string?> Child = Flags.Text("--child", "NODE", "with --from: the child layer (default: the widest pair)");
    private static readonly Option<string?> Dataset = Flags.Text("--dataset", "NAME", "with --from: dataset (default: the run's)", Lopper.Data.DataCatalog.Names);
    private static readonly Option<string?> Data = Flags.Text("--data", "DIR", "with --from: dataset folder (default: the run's)");

    /// <summary>The subcommand (bench runs it on --threads and prints its result).</summary>
    public static Command Create(Func<ParseResult, Func<ParseResult, JsonObject>, int> measure)
    {
        var cmd = new Command("snacs-estimator", "SNACS's hash estimator against MINT's O(N²) estimator on one layer pair (synthetic, or --from RUN)")
        {
            ProbePerClass, Classes, Groups, In, Out, Seed, Estimators, Gamma, From, Child, Dataset, Data,
        };
        cmd.SetAction(parse => measure(parse, Run));
        return cmd;
    }

    private static JsonObject Run(ParseResult a)
    {
        int perClass = a.GetValue(ProbePerClass);
        int classes = a.GetValue(Classes);
        int groups = a.GetValue(Groups);
        int inC = a.GetValue(In), outC = a.GetValue(Out);
        ulong seed = (ulong)a.GetValue(Seed);
        var which = (a.GetValue(Estimators) ?? "hash,mint").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var w in which) if (w is not ("hash" or "mint")) throw new LopperInputException($"--estimators: unknown estimator '{w}' (hash, mint)");
        ActivationMatrix parent, child;
        string source = "synthetic";
        if (a.GetValue(From) is { } from)
        {
            (parent, child, source) = Real(from, a.GetValue(Child), perClass, seed, a.GetValue(Dataset), a.GetValue(Data));
            inC = parent.Cols;
            outC = child.Cols;
        }
        else (parent, child) = Synthetic(perClass * classes, classes, inC, outC, seed);
        if (groups > inC || groups > outC) throw new LopperInputException($"--groups {groups} exceeds the layer widths {inC} x {outC}");
        int n = parent.Rows;
        var ps = LayerPairs.GroupStarts(inC, groups);
        var cs = LayerPairs.GroupStarts(outC, groups);
        var result = new JsonObject
        {
            ["bench"] = "snacs-estimator", ["activations"] = source, ["samples"] = n, ["probe_per_class"] = perClass, ["groups"] = groups,
            ["in"] = inC, ["out"] = outC, ["calls"] = groups * groups, ["seed"] = seed,
        };
        var hashOptions = new HashCmiOptions { Gamma = a.GetValue(Gamma) };
        var seconds = new Dictionary<string, double>();
        foreach (var name in which.Distinct())
        {
            ICmiEstimator est = name == "mint" ? new MintCmiEstimator() : new HashCmiEstimator(hashOptions);
            var sw = Stopwatch.StartNew();
            var r = est.ScorePair(parent, child, ps, cs, seed);
            seconds[name] = sw.Elapsed.TotalSeconds;
            double mean = 0;
            int atFloor = 0;
            foreach (var v in r) { mean += v; if (v <= 1.0001 * new HashCmiOptions().Floor) atFloor++; }
            if (name == "hash") result["hash_at_floor_fraction"] = (double)atFloor / r.Length;
            result[name + "_seconds"] = Math.Round(seconds[name], 4);
            result[name + "_ms_per_call"] = Math.Round(seconds[name] * 1000 / (groups * groups), 4);
            result[name + "_mean_score"] = mean / r.Length;
        }
        if (seconds.TryGetValue("hash", out double h) && seconds.TryGetValue("mint", out double m)) result["ratio_mint_over_snacs"] = Math.Round(m / h, 2);
        return result;
    }

    /// <summary>Probe activations of one real layer pair of a trained run (the widest one unless <paramref name="childName"/> is given).</summary>
    public static (ActivationMatrix Parent, ActivationMatrix Child, string Pair) Real(string from, string? childName, int perClass, ulong seed, string? dataset, string? dataDir)
    {
        var run = Lopper.Runs.RunFolder.Load(from, Lopper.Imaging.SkiaImageDecoder.Instance);
        var data = dataset is null && dataDir is null ? run.Data : (run.Data ?? new Lopper.Runs.DataSpec()) with { Dataset = dataset ?? run.Data?.Dataset ?? "fashion-mnist", Dir = dataDir ?? run.Data?.Dir };
        var model = run.Model;
        var pairs = LayerPairs.Find(model.Graph, Lopper.Structure.ChannelGroups.Analyze(model.Graph));
        if (pairs.Count == 0) throw new LopperInputException($"--from {from}: the model has no layer pair");
        var pair = childName is null
            ? pairs.MaxBy(p => (long)p.ParentChannels * p.ChildChannels)!
            : pairs.FirstOrDefault(p => model.Graph.Nodes[p.Child].Name == childName)
              ?? throw new LopperInputException($"--child {childName}: no pair has that child (children: {string.Join(", ", pairs.Select(p => model.Graph.Nodes[p.Child].Name))})");
        var (train, _) = DataFlags.Load(run, data);
        var probeSet = ActivationProbe.Subset(train, ActivationProbe.DrawIndices(train, perClass, seed));
        var (mean, std) = train.ChannelStats();
        var loader = new Lopper.Data.DataLoader(probeSet, Math.Min(128, probeSet.Count), seed, shuffle: false, mean, std);
        var probe = ActivationProbe.Collect(model, loader, [pair.Parent, pair.Child], [], 0);
        return (probe.Output(pair.Parent), probe.Output(pair.Child), pair.Label(model.Graph));
    }

    /// <summary>
    /// Seeded synthetic activations with real structure: parent channels carry class means plus noise, each child is
    /// a sparse random mix of parents plus noise (so some connections matter and most do not).
    /// </summary>
    public static (ActivationMatrix Parent, ActivationMatrix Child) Synthetic(int n, int classes, int inC, int outC, ulong seed)
    {
        var rng = Rng.Derive(seed, 0x42454E4348UL);
        var means = new float[classes * inC];
        for (int i = 0; i < means.Length; i++) means[i] = (float)rng.NextNormal();
        var parent = new ActivationMatrix(n, inC);
        for (int r = 0; r < n; r++)
            for (int j = 0; j < inC; j++) parent.Data[r * inC + j] = means[(r % classes) * inC + j] + (float)rng.NextNormal();
        var child = new ActivationMatrix(n, outC);
        int fanIn = Math.Max(1, inC / 16);
        var src = new int[outC * fanIn];
        var w = new float[outC * fanIn];
        for (int i = 0; i < src.Length; i++) { src[i] = rng.NextInt(inC); w[i] = (float)rng.NextNormal(); }
        for (int r = 0; r < n; r++)
            for (int c = 0; c < outC; c++)
            {
                float v = 0.5f * (float)rng.NextNormal();
                for (int t = 0; t < fanIn; t++) v += w[c * fanIn + t] * parent.Data[r * inC + src[c * fanIn + t]];
                child.Data[r * outC + c] = v;
            }
        return (parent, child);
    }
}
