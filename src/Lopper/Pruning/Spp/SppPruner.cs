using Lopper.Methods;
using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Optim;
using Lopper.Structure;
using Lopper.Training;

namespace Lopper.Pruning.Spp;

/// <summary>
/// Structured probabilistic pruning (SPP; Wang, Zhang, Wang, Hu, BMVC 2018) of im2col kernel columns: while
/// the model trains, every column carries a pruning probability that rises or falls with its L1 rank, columns
/// are dropped at random by that probability each iteration, and a column whose probability reaches 1 is gone
/// for good. Each layer stops at its target ratio; the zero columns are then compacted into column-subset
/// convolutions, so the conv-MAC saving is real.
/// </summary>
public sealed class SppPruner(SppOptions options) : IPruningMethod
{
    /// <summary>The registry's entry.</summary>
    public static PruningMethodInfo Info { get; } = PruningMethodInfo.Create<SppOptions>(
        "spp", "structured probabilistic pruning of kernel columns during training (SPP)", o => new SppPruner(o), "target-speedup");

    /// <summary>The settings.</summary>
    public SppOptions Options { get; } = options.Validate();

    /// <inheritdoc/>
    public string Name => "spp";

    /// <summary>
    /// The layers SPP prunes with their targets. With <see cref="SppOptions.Ratios"/>: the named convolutions.
    /// With <see cref="SppOptions.TargetSpeedup"/>: one uniform column ratio over every dense convolution except
    /// the stem (unless <see cref="SppOptions.IncludeStem"/>) and those with fewer than
    /// <see cref="SppOptions.MinColumns"/> columns, which stay whole; the ratio is computed over the rest so the
    /// whole-network speedup is still the target. Convolutions that are already column subsets are left alone.
    /// </summary>
    public static SppPlan PlanLayers(Model model, SppOptions options)
    {
        var graph = model.Graph;
        var convs = new List<(Node Node, Conv2dOp Op, long Macs)>();
        var stems = StemConvolutions(graph).Select(i => graph.Nodes[i].Name).ToHashSet();
        long total = 0;
        foreach (var node in graph.Nodes)
        {
            if (node.Op is not Conv2dOp conv) continue;
            long macs = conv.Macs(graph.InputShapesOf(node));
            total += macs;
            // Dense convolutions only: column surgery cannot compact a grouped or depthwise weight's columns.
            if (conv.Columns is null && conv.Groups == 1 && conv.K >= 2) convs.Add((node, conv, macs));
        }
        var layers = new List<SppLayer>();
        var whole = new List<(string Node, string Reason)>();
        if (options.Ratios is { } ratios)
        {
            var known = convs.Select(c => c.Node.Name).ToHashSet();
            foreach (var name in ratios.Keys)
                if (!known.Contains(name))
                    throw LopperInputException.ForOptions<SppOptions>($"Ratios: '{name}' is not a prunable convolution of {graph.Name} (known: {string.Join(", ", known)})", nameof(SppOptions.Ratios));
            foreach (var (node, conv, macs) in convs)
                if (ratios.TryGetValue(node.Name, out double r) && r > 0) layers.Add(new SppLayer(node.Name, conv.OutChannels, conv.K, macs, r));
        }
        else
        {
            var chosen = new List<(Node Node, Conv2dOp Op, long Macs)>();
            foreach (var c in convs)
            {
                string? reason = !options.IncludeStem && stems.Contains(c.Node.Name) ? "stem"
                    : c.Op.K < options.MinColumns ? $"{c.Op.K} columns < MinColumns {options.MinColumns}" : null;
                if (reason is null) chosen.Add(c);
                else whole.Add((c.Node.Name, reason));
            }
            if (chosen.Count == 0)
                throw LopperInputException.ForOptions<SppOptions>($"{(options.TargetMacs is null ? "TargetSpeedup" : "TargetMacs")}: every prunable convolution of {graph.Name} is kept whole (stem or fewer than MinColumns {options.MinColumns} columns); lower MinColumns or set IncludeStem", nameof(SppOptions.MinColumns), nameof(SppOptions.IncludeStem));
            double speedup = options.TargetSpeedup ?? ConvSpeedupFor(options.TargetMacs!.Value, graph.Macs(), total);
            double r = SppMath.UniformRatio(speedup, total, chosen.Sum(c => c.Macs));
            foreach (var (node, conv, macs) in chosen) layers.Add(new SppLayer(node.Name, conv.OutChannels, conv.K, macs, r));
        }
        if (layers.Count == 0) throw new LopperInputException($"spp: no convolution of {graph.Name} has a target above 0");
        return new SppPlan(layers, total, whole);
    }

    // The convolution-MAC speedup that keeps the share f of all MACs when only convolutions shrink.
    private static double ConvSpeedupFor(double f, long allMacs, long convMacs)
    {
        double convKept = f * allMacs - (allMacs - convMacs);
        if (convKept <= 0)
            throw LopperInputException.ForOptions<SppOptions>($"TargetMacs {f:g4}: the layers other than convolutions alone take {(double)(allMacs - convMacs) / allMacs:P1} of the MACs", nameof(SppOptions.TargetMacs));
        return convMacs / convKept;
    }

    /// <summary>Convolutions with no convolution before them (they read the image): the stem.</summary>
    public static HashSet<int> StemConvolutions(ModelGraph graph)
    {
        var afterConv = new bool[graph.Nodes.Count];
        var stems = new HashSet<int>();
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            bool upstream = false;
            foreach (int j in node.InputIndices) upstream |= afterConv[j] || graph.Nodes[j].Op is Conv2dOp;
            afterConv[i] = upstream;
            if (node.Op is Conv2dOp && !upstream) stems.Add(i);
        }
        return stems;
    }

    /// <summary>
    /// The update interval t that lets every layer of <paramref name="layers"/> finish by probability within
    /// <see cref="SppOptions.FinishBy"/> of <paramref name="plannedIterations"/>, when ranks stay fixed
    /// (<see cref="SppMath.UpdatesToComplete"/>); at least 1. <paramref name="updatesNeeded"/> is the slowest layer's count.
    /// </summary>
    public static int DeriveInterval(IEnumerable<SppLayer> layers, SppOptions options, long plannedIterations, out int updatesNeeded)
    {
        updatesNeeded = 0;
        var seen = new Dictionary<(int, int), int>();
        foreach (var l in layers)
        {
            if (!seen.TryGetValue((l.Columns, l.TargetCount), out int u))
                seen[(l.Columns, l.TargetCount)] = u = SppMath.UpdatesToComplete(l.Columns, l.TargetCount, options.A, options.U);
            updatesNeeded = Math.Max(updatesNeeded, u);
        }
        if (updatesNeeded == 0) return 1;
        return (int)Math.Clamp(Math.Floor(options.FinishBy * plannedIterations / updatesNeeded), 1, int.MaxValue);
    }

    /// <inheritdoc/>
    public PruneOutcome Prune(PruneContext context)
    {
        var model = context.Model;
        var (layers, totalConvMacs, whole) = PlanLayers(model, Options);
        long planned = (long)Options.PruneEpochs * context.Train.BatchesPerEpoch;
        int interval = DeriveInterval(layers, Options, planned, out int updatesNeeded);
        bool derived = Options.Interval is null;
        if (Options.Interval is int given) interval = given;
        var hook = new SppHook(layers, Options, context.Seed, totalConvMacs, interval);
        // The spec prunes at a constant rate; a cosine over the epoch budget would decay before pruning ends.
        var config = context.TrainConfig with { Schedule = ScheduleKind.Constant, WarmupEpochs = 0 };
        context.Log($"SPP: {layers.Count} convolution(s), target column ratio(s) {string.Join(", ", layers.Select(l => $"{l.Node} {l.TargetRatio:P1}"))}; " +
            $"t = {interval}{(derived ? " (derived)" : "")}, A = {Options.A}, u = {Options.U}, at most {Options.PruneEpochs} epoch(s) = {planned} iteration(s)");
        if (whole.Count > 0)
            context.Log($"SPP: kept whole: {string.Join(", ", whole.Select(w => $"{w.Node} ({w.Reason})"))}");
        long fastest = updatesNeeded == 0 ? 0 : 1 + (long)(updatesNeeded - 1) * interval;
        if (fastest > planned)
            context.Log($"SPP warning: the slowest layer needs {updatesNeeded} probability updates, at t = {interval} at least {fastest} iterations, " +
                $"but the pruning phase has {planned}: layers will be completed by L1 rank (raise --prune-epochs or --A{(derived ? "" : ", or lower --interval")})");

        // One epoch per Trainer so the loop can end as soon as every layer is done; the checkpoint of the
        // previous epoch carries momentum and the epoch index (shuffling) across.
        string scratch = Path.Combine(Path.GetTempPath(), "lopper-spp-" + Guid.NewGuid().ToString("N"));
        int epochs = 0;
        try
        {
            for (; epochs < Options.PruneEpochs && !hook.AllFinished; epochs++)
            {
                var trainer = new Trainer(model, config with { Epochs = epochs + 1 }, context.Train, context.Test, scratch)
                {
                    Progress = context.Progress,
                    ProgressEpochs = Options.PruneEpochs,
                };
                if (epochs > 0) trainer.RestoreFrom(scratch);
                trainer.AddHook(hook);
                trainer.Run();
                context.Log(hook.FormatProgress());
            }
        }
        finally
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
        }

        int forced = 0;
        foreach (var l in layers.Where(l => !l.Finished))
        {
            hook.ForceFinish(model, l);
            forced++;
        }
        if (forced > 0)
            context.Log($"SPP: epoch budget spent with {forced} layer(s) short of target; completed them by probability and L1 rank (raise --prune-epochs or --A{(derived ? "" : ", or lower --interval")})");
        int byProbability = layers.Sum(l => l.ProbabilityCount), byForce = layers.Sum(l => l.ForcedCount);
        context.Log($"SPP: columns removed by probability/forced by rank: {string.Join(", ", layers.Select(l => $"{l.Node} {l.ProbabilityCount}/{l.ForcedCount}"))}");
        if (byForce > byProbability)
            context.Log($"SPP warning: {byForce} of {byForce + byProbability} removed columns were forced by L1 rank, not removed by probability; the result is mostly one-shot L1 column pruning");

        if (Options.RetrainEpochs > 0)
        {
            var masks = DeadColumnMasks(model, layers);
            var trainer = new Trainer(model, context.TrainConfig with { Epochs = Options.RetrainEpochs }, context.Train, context.Test, null) { Progress = context.Progress };
            trainer.AddHook(new MaskHook(masks));
            trainer.Run();
            context.Log($"SPP: retrained the fixed sparse network for {Options.RetrainEpochs} epoch(s)");
        }

        var pruned = ColumnSurgery.Compact(model, model.Graph.Name);
        var details = Details(hook, layers, epochs, forced, totalConvMacs, ConvMacs(pruned.Graph));
        details["interval_derived"] = derived;
        details["updates_needed"] = updatesNeeded;
        details["planned_iterations"] = planned;
        details["columns_by_probability"] = byProbability;
        details["columns_forced"] = byForce;
        var wholeRows = new JsonArray();
        foreach (var (node, reason) in whole) wholeRows.Add(new JsonObject { ["layer"] = node, ["reason"] = reason });
        details["kept_whole"] = wholeRows;
        return new PruneOutcome { Pruned = pruned, Details = details };
    }

    /// <summary>Masks holding every dead column of <paramref name="layers"/> at zero.</summary>
    public static ParameterMasks DeadColumnMasks(Model model, IEnumerable<SppLayer> layers)
    {
        var masks = new ParameterMasks();
        foreach (var l in layers)
            masks.AddColumns(model, l.Weight, Enumerable.Range(0, l.Columns).Where(j => l.Dead[j]));
        return masks;
    }

    /// <summary>Convolution MACs for one image.</summary>
    public static long ConvMacs(ModelGraph graph) =>
        graph.Nodes.Where(n => n.Op is Conv2dOp).Sum(n => n.Op.Macs(graph.InputShapesOf(n)));

    private JsonObject Details(SppHook hook, IReadOnlyList<SppLayer> layers, int epochs, int forced, long convMacsBefore, long convMacsAfter)
    {
        var rows = new JsonArray();
        foreach (var l in layers)
            rows.Add(new JsonObject
            {
                ["layer"] = l.Node,
                ["columns"] = l.Columns,
                ["target_ratio"] = l.TargetRatio,
                ["target_columns"] = l.TargetCount,
                ["pruned_columns"] = l.DeadCount,
                ["column_ratio"] = l.Ratio,
                ["finished_at_iteration"] = l.FinishedAt,
                ["forced"] = l.Forced,
                ["by_probability"] = l.ProbabilityCount,
                ["forced_columns"] = l.ForcedCount,
            });
        return new JsonObject
        {
            ["target_speedup"] = Options.TargetSpeedup,
            ["target_macs"] = Options.TargetMacs,
            ["interval"] = hook.Interval,
            ["A"] = Options.A,
            ["u"] = Options.U,
            ["prune_epochs_budget"] = Options.PruneEpochs,
            ["prune_epochs_used"] = epochs,
            ["iterations"] = hook.Iteration,
            ["layers_forced"] = forced,
            ["retrain_epochs"] = Options.RetrainEpochs,
            ["scale_survivors"] = Options.ScaleSurvivors,
            ["include_stem"] = Options.IncludeStem,
            ["min_columns"] = Options.MinColumns,
            ["column_speedup"] = hook.ColumnSpeedup,
            ["conv_macs_before"] = convMacsBefore,
            ["conv_macs_after"] = convMacsAfter,
            ["conv_mac_speedup"] = convMacsAfter == 0 ? null : (double)convMacsBefore / convMacsAfter,
            ["layers"] = rows,
        };
    }
}
