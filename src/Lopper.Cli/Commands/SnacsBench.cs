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
    /// <summary>Help text.</summary>
    public const string Usage = "lopper bench snacs-estimator [--probe-per-class N (200)] [--classes K (10)] [--groups G (16)] [--in C (512)] [--out C2 (512)] [--estimators hash,mint] [--seed S] [--threads T] [--json]\n" +
        "lopper bench snacs-estimator --from RUN [--child NODE (default: the widest pair)] [--probe-per-class N] [--groups G] ...   (real probe activations)";

    /// <summary>Runs the benchmark.</summary>
    public static JsonObject Run(Args a)
    {
        int perClass = a.Int("probe-per-class", 200, 2);
        int classes = a.Int("classes", 10, 2);
        int groups = a.Int("groups", 16, 1);
        int inC = a.Int("in", 512, 1), outC = a.Int("out", 512, 1);
        ulong seed = (ulong)a.Int("seed", 1, 0);
        var which = a.Str("estimators", "hash,mint").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var w in which) if (w is not ("hash" or "mint")) throw new LopperInputException($"--estimators: unknown estimator '{w}' (hash, mint)");
        ActivationMatrix parent, child;
        string source = "synthetic";
        if (a.Str("from") is { } from)
        {
            (parent, child, source) = Real(from, a.Str("child"), perClass, seed, a.Str("dataset"), a.Str("data"));
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
        var hashOptions = new HashCmiOptions { Gamma = a.Real("gamma", new HashCmiOptions().Gamma, 1e-6) };
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
