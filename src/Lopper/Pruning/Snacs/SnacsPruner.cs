using Lopper.Methods;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Structure;
using Lopper.Tensors;
using Lopper.Training;

namespace Lopper.Pruning.Snacs;

/// <summary>
/// SNACS (Ganesh, Blanchard, Corso, Sekeh): single-shot connection pruning. Every (child group, parent group)
/// connection of every layer pair is scored by ACMI = φ(weights)·I(child; parent group | other parent groups) on a
/// class-balanced probe set; each pair gets an automatic upper pruning limit (operating constraints) and a set of
/// protected child groups (sensitivity); one global threshold cuts whole kernel slices; filters left without inputs
/// or readers are removed, the rest are held as masks while fine-tuning.
/// </summary>
public sealed class SnacsPruner(SnacsOptions options) : IPruningMethod
{
    /// <summary>The registry's entry.</summary>
    public static PruningMethodInfo Info { get; } = PruningMethodInfo.Create<SnacsOptions>(
        "snacs", "single-shot connection pruning scored by ACMI, with upper limits and sensitivity (SNACS)", o => new SnacsPruner(o), "target-params");

    /// <summary>The settings.</summary>
    public SnacsOptions Options { get; } = options.Validate();

    /// <inheritdoc/>
    public string Name => Options.RandomScores ? "snacs-random" : Options.Estimator == "mint" ? "snacs-mint" : "snacs";

    /// <summary>Everything the scoring pass produces, before a threshold is chosen.</summary>
    public sealed record Scoring(List<PairScores> Pairs, ChannelGroups Groups, JsonObject Seconds, int ProbeRows, int UlRows);

    /// <inheritdoc/>
    public PruneOutcome Prune(PruneContext context)
    {
        var total = Stopwatch.StartNew();
        var model = context.Model;
        var scoring = Score(model, context.Train, context.Seed, context.Log, context.Progress);
        var sw = Stopwatch.StartNew();
        var (threshold, q, relax) = ChooseThreshold(model, scoring.Pairs, scoring.Groups);
        var cuts = ConnectionMasks.BuildAtThreshold(scoring.Pairs, threshold, relax);
        var masks = ChildMasks(model, scoring.Pairs, cuts);
        var (compact, pm, dead) = ConnectionCompaction.Compact(model, masks);
        scoring.Seconds["masks"] = sw.Elapsed.TotalSeconds;
        scoring.Seconds["total"] = total.Elapsed.TotalSeconds;
        var (denseParams, denseMacs) = CostCounter.Totals(model.Graph);
        var (keptParams, keptMacs) = ConnectionCompaction.Cost(compact, pm);
        context.Log($"snacs: q {q:F4} (threshold {threshold:G4}), {dead} filter(s) orphaned, params kept {100.0 * keptParams / denseParams:F1}%, MACs kept {100.0 * keptMacs / denseMacs:F1}%" +
            (relax > 0 ? $" (the upper limits alone stop short of {Options.TargetParams ?? Options.TargetMacs:P1}: each was lifted by {relax:P1} of its headroom)" : ""));

        var layers = new JsonArray();
        for (int l = 0; l < scoring.Pairs.Count; l++)
        {
            var ps = scoring.Pairs[l];
            string w = ps.Pair.Weight(model.Graph);
            var m = masks[w];
            int cutCount = 0;
            foreach (var v in cuts[l]) if (v) cutCount++;
            layers.Add(new JsonObject
            {
                ["pair"] = ps.Pair.Label(model.Graph),
                ["parent_groups"] = ps.ParentGroups,
                ["child_groups"] = ps.ChildGroups,
                ["upper_limit"] = ps.UpperLimit,
                ["gamma"] = ps.Gamma,
                ["protected_groups"] = ps.Protected?.Count(b => b) ?? 0,
                ["connections_cut"] = (double)cutCount / (ps.ChildGroups * ps.ParentGroups),
                ["pruned_fraction"] = 1 - TensorPrimitives.Sum(m) / m.Length,
            });
        }
        var details = new JsonObject
        {
            ["estimator"] = Options.Estimator,
            ["phi"] = Options.WeightScaled ? "weight" : "none",
            ["weight_range"] = Options.WeightRange.ToString(),
            ["groups"] = Options.Groups,
            ["min_group_filters"] = Options.MinGroupFilters,
            ["probe_rows"] = scoring.ProbeRows,
            ["ul_probe_rows"] = scoring.UlRows,
            ["sensitivity"] = Options.Sensitivity.ToString().ToLowerInvariant(),
            ["protect_fraction"] = Options.ProtectFraction,
            ["quantile"] = q,
            ["threshold"] = threshold,
            ["target_params"] = Options.TargetParams,
            ["target_macs"] = Options.TargetMacs,
            ["target_met"] = true, // an unreachable target fails before this point
            ["upper_limit_relaxation"] = relax,
            ["params_kept_fraction"] = (double)keptParams / denseParams,
            ["macs_kept_fraction"] = (double)keptMacs / denseMacs,
            ["dead_filters"] = dead,
            ["seconds"] = scoring.Seconds,
            ["layers"] = layers,
        };
        return new PruneOutcome { Pruned = compact, Masks = pm, Macs = keptMacs, Details = details };
    }

    /// <summary>
    /// The scoring pass: probe activations, ACMI matrices, upper limits and protected groups of every pair. The model
    /// is not changed.
    /// </summary>
    public Scoring Score(Model model, DataLoader train, ulong seed, Action<string>? log = null, IProgress<TrainProgress>? progress = null)
    {
        log ??= _ => { };
        var seconds = new JsonObject();
        var graph = model.Graph;
        var groups = ChannelGroups.Analyze(graph);
        var pairs = LayerPairs.Find(graph, groups);
        if (pairs.Count == 0) throw new LopperInputException($"snacs: {graph.Name} has no conv/linear layer reading another layer's output, nothing to prune");

        var sw = Stopwatch.StartNew();
        var data = train.Data;
        var indices = ActivationProbe.DrawIndices(data, Options.ProbePerClass, seed);
        var probeSet = ActivationProbe.Subset(data, indices);
        var loader = new DataLoader(probeSet, Math.Min(128, probeSet.Count), seed, shuffle: false, train.Mean.ToArray(), train.Std.ToArray());
        int ulRows = Math.Min(probeSet.Count, Math.Min(Options.UlProbePerClass, Options.ProbePerClass) * data.ClassCount);
        var probe = ActivationProbe.Collect(model, loader, pairs.Select(p => p.Parent).Concat(pairs.Select(p => p.Child)),
            Options.NoUpperLimits ? [] : pairs.Select(p => p.Child), Options.NoUpperLimits ? 0 : ulRows);
        seconds["probe"] = sw.Elapsed.TotalSeconds;
        log($"snacs: {pairs.Count} layer pair(s), probe {probeSet.Count} image(s) ({Options.ProbePerClass}/class), estimator {Options.Estimator}");

        ICmiEstimator estimator = Options.Estimator == "mint" ? new MintCmiEstimator() : new HashCmiEstimator();
        var (wmin, wmax) = WeightScaling.Range(model, Options.WeightRange);
        int classifierGroup = groups.GroupOfNode[graph.Nodes.Count - 1];
        var scored = new List<PairScores>(pairs.Count);
        var normalised = new double[pairs.Count][];
        double estimatorSeconds = 0;
        sw.Restart();
        for (int l = 0; l < pairs.Count; l++)
        {
            var pair = pairs[l];
            var ps = LayerPairs.GroupStarts(pair.ParentChannels, Options.Groups);
            bool classifier = groups.GroupOfNode[pair.Child] == classifierGroup;
            var cs = LayerPairs.GroupStarts(pair.ChildChannels, classifier ? pair.ChildChannels : ChildGroups(pair.ChildChannels));
            var est = Stopwatch.StartNew();
            var r = estimator.ScorePair(probe.Output(pair.Parent), probe.Output(pair.Child), ps, cs, Rng.Derive(seed, 0x534E414353UL, (ulong)l).NextULong());
            if (Options.RandomScores)
            {
                var noise = Rng.Derive(seed, 0x52414E44UL, (ulong)l);
                for (int c = 0; c < r.GetLength(0); c++)
                    for (int p = 0; p < r.GetLength(1); p++) r[c, p] = noise.NextDouble();
            }
            estimatorSeconds += est.Elapsed.TotalSeconds;
            var weight = model.Find(pair.Weight(graph))!.Value.Data;
            normalised[l] = WeightScaling.Normalised(weight, pair.ChildChannels, pair.ParentChannels, wmin, wmax);
            if (Options.WeightScaled)
            {
                var phi = WeightScaling.Phi(normalised[l], pair.ParentChannels, ps, cs);
                for (int c = 0; c < cs.Length - 1; c++)
                    for (int p = 0; p < ps.Length - 1; p++) r[c, p] *= phi[c, p];
            }
            double? gamma = estimator is HashCmiEstimator h ? h.LastGamma : null;
            scored.Add(new PairScores { Pair = pair, ParentStarts = ps, ChildStarts = cs, Scores = r, Gamma = gamma is double g && double.IsFinite(g) ? g : null });
            double elapsed = sw.Elapsed.TotalSeconds;
            progress?.Report(new TrainProgress(0, 1, l + 1, pairs.Count, 0, 0, 0, elapsed / (l + 1) * (pairs.Count - l - 1)));
        }
        seconds["scoring"] = sw.Elapsed.TotalSeconds;
        seconds["estimator"] = estimatorSeconds;
        BreakTies(scored, model);

        sw.Restart();
        if (!Options.NoUpperLimits)
        {
            var grid = OperatingConstraints.Grid(Options.UlStep);
            var labels = probe.Labels[..probe.PatchRows];
            Parallelism.For(scored.Count, l =>
            {
                var ps = scored[l];
                var node = graph.Nodes[ps.Pair.Child];
                var bias = model.Find(node.Name + ".bias")?.Value.Data;
                (ps.UpperLimit, _) = OperatingConstraints.UpperLimit(ps, probe.PatchMeans(ps.Pair.Child), model.Find(ps.Pair.Weight(graph))!.Value.Data, bias, labels, grid, Options.Beta);
            });
        }
        seconds["upper_limits"] = sw.Elapsed.TotalSeconds;

        for (int l = 0; l < scored.Count; l++)
        {
            var ps = scored[l];
            int space = groups.GroupOfNode[ps.Pair.Child];
            var readers = new List<(double[], int)>();
            for (int m = 0; m < scored.Count; m++)
            {
                var other = scored[m].Pair;
                if (groups.GroupOfNode[graph.Nodes[other.Child].InputIndices[0]] == space && other.ParentChannels == ps.Pair.ChildChannels)
                    readers.Add((normalised[m], other.ChildChannels));
            }
            var psi = Sensitivity.Psi(readers, ps.Pair.ChildChannels, ps.ChildStarts);
            ps.Protected = Sensitivity.Protected(psi, ps.ChildGroups, Options.Sensitivity, Options.ProtectFraction);
            // The classifier holds a fraction of a percent of the parameters, yet its connections scored cheap and a
            // deep cut there cost 22 points at a 0.3 budget: it stays whole unless asked.
            if (!Options.IncludeClassifier && groups.GroupOfNode[ps.Pair.Child] == classifierGroup) Array.Fill(ps.Protected, true);
            log($"  {ps.Pair.Label(graph),-28} {ps.ChildGroups,4} x {ps.ParentGroups,-4} groups  UL {ps.UpperLimit:F2}  protected {ps.Protected.Count(b => b)}");
        }
        return new Scoring(scored, groups, seconds, probeSet.Count, probe.PatchRows);
    }

    /// <summary>
    /// On small probes the hash estimator leaves many scores at one floor value; cut at one threshold they all go
    /// together and a parameter budget overshoots (a 50 % target kept 38.7 % on the demo's subset). Every use of the
    /// scores (the global cut, the per-pair upper-limit quantiles) depends on their order only, so each score is
    /// replaced by its rank over all pairs, (rank + 1) / count, with exact ties ordered by their group's mean |w|
    /// (smaller first): distinct scores keep their order and ties no longer go as one.
    /// </summary>
    public static void BreakTies(IReadOnlyList<PairScores> pairs, Model model)
    {
        var entries = new List<(double Score, double Key, int Pair, int Child, int Parent)>();
        for (int l = 0; l < pairs.Count; l++)
        {
            var ps = pairs[l];
            var w = model.Find(ps.Pair.Weight(model.Graph))!.Value.Span;
            int pc = ps.Pair.ParentChannels, cc = ps.Pair.ChildChannels;
            bool keyed = w.Length % ((long)pc * cc) == 0; // grouped weights: no tie key
            int per = keyed ? w.Length / (pc * cc) : 0;
            for (int c = 0; c < ps.ChildGroups; c++)
                for (int p = 0; p < ps.ParentGroups; p++)
                {
                    double sum = 0;
                    long n = 0;
                    if (keyed)
                        for (int i = ps.ChildStarts[c]; i < ps.ChildStarts[c + 1]; i++)
                        {
                            int from = (i * pc + ps.ParentStarts[p]) * per, len = (ps.ParentStarts[p + 1] - ps.ParentStarts[p]) * per;
                            sum += TensorPrimitives.SumOfMagnitudes(w.Slice(from, len));
                            n += len;
                        }
                    entries.Add((ps.Scores[c, p], n == 0 ? 0 : sum / n, l, c, p));
                }
        }
        entries.Sort();
        for (int k = 0; k < entries.Count; k++)
        {
            var e = entries[k];
            pairs[e.Pair].Scores[e.Child, e.Parent] = (k + 1.0) / entries.Count;
        }
    }

    /// <summary>All-ones masks for every pair's child weight with the cuts written in.</summary>
    public static Dictionary<string, float[]> ChildMasks(Model model, IReadOnlyList<PairScores> pairs, bool[][,] cuts)
    {
        var masks = new Dictionary<string, float[]>();
        for (int l = 0; l < pairs.Count; l++)
        {
            var ps = pairs[l];
            var m = new float[model.Find(ps.Pair.Weight(model.Graph))!.Value.Length];
            m.AsSpan().Fill(1f);
            ConnectionMasks.Apply(cuts[l], ps.ParentStarts, ps.ChildStarts, ps.Pair.ParentChannels, m);
            masks[ps.Pair.Weight(model.Graph)] = m;
        }
        return masks;
    }

    // Child groups of a layer of n filters: Options.Groups, fewer where that would leave a group under
    // Options.MinGroupFilters filters.
    private int ChildGroups(int n) => Math.Min(Options.Groups, Math.Max(1, n / Options.MinGroupFilters));

    /// <summary>
    /// Parameters and MACs the compacted model would keep at a global threshold (orphaned filters removed, zeroed
    /// slices not counted), without touching <paramref name="model"/>.
    /// </summary>
    public static (long Params, long Macs) KeptCost(Model model, ChannelGroups groups, IReadOnlyList<PairScores> pairs, double threshold, Model scratch, double relax = 0)
    {
        var masks = ChildMasks(model, pairs, ConnectionMasks.BuildAtThreshold(pairs, threshold, relax));
        foreach (var p in model.Parameters) p.Value.Span.CopyTo(scratch.Find(p.Name)!.Value.Span);
        ConnectionCompaction.WriteMasked(model, scratch, masks);
        ConnectionCompaction.PropagateDead(scratch, groups, masks);
        var selection = ColumnSurgery.RemovableChannels(scratch, groups);
        var compactMasks = ChannelSurgery.Compact(ConnectionCompaction.MaskModel(model.Graph, masks), groups, selection);
        return ConnectionCompaction.Cost(compactMasks, name => masks.ContainsKey(name) ? compactMasks.Find(name)!.Value.Data : null);
    }

    /// <summary>
    /// The global threshold: the Quantile value directly, or for TargetParams (TargetMacs) the lowest distinct score whose
    /// cut keeps at most that fraction of the parameters (MACs) (bisection; the kept cost falls monotonically as the
    /// threshold rises). When even the highest threshold keeps too much, because every pair sits at its upper limit, the
    /// limits are lifted together by the smallest share of their headroom that meets the target (bisection again), so the
    /// extra cuts still go to the lowest scores; a target that protected groups and the classifier make unreachable
    /// fails naming the largest cut possible. Returns the threshold, its quantile and the relaxation (0: none).
    /// </summary>
    public (double Threshold, double Quantile, double Relax) ChooseThreshold(Model model, IReadOnlyList<PairScores> pairs, ChannelGroups groups)
    {
        var values = ConnectionMasks.DistinctValues(pairs.Select(p => p.Scores));
        if (Options.Quantile is double q) return (ConnectionMasks.Quantile(values, q), q, 0);
        bool byMacs = Options.TargetMacs is not null;
        string option = byMacs ? nameof(SnacsOptions.TargetMacs) : nameof(SnacsOptions.TargetParams), what = byMacs ? "MACs" : "parameters";
        double fraction = (Options.TargetMacs ?? Options.TargetParams)!.Value;
        var totals = CostCounter.Totals(model.Graph);
        long dense = byMacs ? totals.Macs : totals.Params;
        double target = fraction * dense;
        var scratch = new Model(model.Graph);
        long Kept(double threshold, double relax = 0)
        {
            var (p, m) = KeptCost(model, groups, pairs, threshold, scratch, relax);
            return byMacs ? m : p;
        }
        // Index -1 cuts nothing; index i cuts every score <= values[i].
        bool Meets(int i) => i >= 0 ? Kept(values[i]) <= target : dense <= target;
        if (Meets(-1)) return (double.NegativeInfinity, 0, 0);
        int hi = values.Length - 1;
        if (!Meets(hi))
        {
            double top = values[hi];
            long most = Kept(top, relax: 1);
            if (most > target)
                throw LopperInputException.ForOptions<SnacsOptions>(
                    $"{option} {fraction:G3} cannot be reached: with every upper limit lifted, cutting all unprotected connections keeps {(double)most / dense:P1} " +
                    $"of the {what} (protected groups{(Options.IncludeClassifier ? "" : " and the classifier")} stay); give {option} {Math.Ceiling(1000.0 * most / dense) / 1000:G3} or more, or a smaller ProtectFraction",
                    option, nameof(SnacsOptions.ProtectFraction));
            double lo = 0, up = 1;
            for (int i = 0; i < 20; i++)
            {
                double mid = (lo + up) / 2;
                if (Kept(top, mid) <= target) up = mid; else lo = mid;
            }
            return (top, 1, up);
        }
        int low = -1; // invariant: !Meets(low), Meets(hi)
        while (hi - low > 1)
        {
            int mid = (low + hi) / 2;
            if (Meets(mid)) hi = mid; else low = mid;
        }
        return (values[hi], (double)hi / values.Length, 0);
    }
}
