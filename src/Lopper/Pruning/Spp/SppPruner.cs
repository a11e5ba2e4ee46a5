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
    /// The layers SPP prunes with their targets: every dense convolution (the first one too, since the paper's
    /// exclusions are unknown), with a uniform ratio from <see cref="SppOptions.TargetSpeedup"/> or the named
    /// <see cref="SppOptions.Ratios"/>. Convolutions that are already column subsets are left alone.
    /// </summary>
    public static (List<SppLayer> Layers, long TotalConvMacs) PlanLayers(Model model, SppOptions options)
    {
        var graph = model.Graph;
        var convs = new List<(Node Node, Conv2dOp Op, long Macs)>();
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
            double r = SppMath.UniformRatio(options.TargetSpeedup!.Value, total, convs.Sum(c => c.Macs));
            foreach (var (node, conv, macs) in convs) layers.Add(new SppLayer(node.Name, conv.OutChannels, conv.K, macs, r));
        }
        if (layers.Count == 0) throw new LopperInputException($"spp: no convolution of {graph.Name} has a target above 0");
        return (layers, total);
    }

    /// <inheritdoc/>
    public PruneOutcome Prune(PruneContext context)
    {
        var model = context.Model;
        var (layers, totalConvMacs) = PlanLayers(model, Options);
        var hook = new SppHook(layers, Options, context.Seed, totalConvMacs);
        // The spec prunes at a constant rate; a cosine over the epoch budget would decay before pruning ends.
        var config = context.TrainConfig with { Schedule = ScheduleKind.Constant, WarmupEpochs = 0 };
        context.Log($"SPP: {layers.Count} convolution(s), target column ratio(s) {string.Join(", ", layers.Select(l => $"{l.Node} {l.TargetRatio:P1}"))}; " +
            $"t = {Options.Interval}, A = {Options.A}, u = {Options.U}, at most {Options.PruneEpochs} epoch(s)");

        // One epoch per Trainer so the loop can end as soon as every layer is done; the checkpoint of the
        // previous epoch carries momentum and the epoch index (shuffling) across.
        string scratch = Path.Combine(Path.GetTempPath(), "lopper-spp-" + Guid.NewGuid().ToString("N"));
        int epochs = 0;
        try
        {
            for (; epochs < Options.PruneEpochs && !hook.AllFinished; epochs++)
            {
                var trainer = new Trainer(model, config with { Epochs = epochs + 1 }, context.Train, context.Test, scratch) { Progress = context.Progress };
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
            context.Log($"SPP: epoch budget spent with {forced} layer(s) short of target; completed them by probability and L1 rank (raise --prune-epochs or lower --interval)");

        if (Options.RetrainEpochs > 0)
        {
            var masks = DeadColumnMasks(model, layers);
            var trainer = new Trainer(model, context.TrainConfig with { Epochs = Options.RetrainEpochs }, context.Train, context.Test, null) { Progress = context.Progress };
            trainer.AddHook(new MaskHook(masks));
            trainer.Run();
            context.Log($"SPP: retrained the fixed sparse network for {Options.RetrainEpochs} epoch(s)");
        }

        var pruned = ColumnSurgery.Compact(model, model.Graph.Name);
        return new PruneOutcome { Pruned = pruned, Details = Details(hook, layers, epochs, forced, totalConvMacs, ConvMacs(pruned.Graph)) };
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

    private JsonObject Details(SppHook hook, List<SppLayer> layers, int epochs, int forced, long convMacsBefore, long convMacsAfter)
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
            });
        return new JsonObject
        {
            ["target_speedup"] = Options.TargetSpeedup,
            ["interval"] = Options.Interval,
            ["A"] = Options.A,
            ["u"] = Options.U,
            ["prune_epochs_budget"] = Options.PruneEpochs,
            ["prune_epochs_used"] = epochs,
            ["iterations"] = hook.Iteration,
            ["layers_forced"] = forced,
            ["retrain_epochs"] = Options.RetrainEpochs,
            ["scale_survivors"] = Options.ScaleSurvivors,
            ["column_speedup"] = hook.ColumnSpeedup,
            ["conv_macs_before"] = convMacsBefore,
            ["conv_macs_after"] = convMacsAfter,
            ["conv_mac_speedup"] = convMacsAfter == 0 ? null : (double)convMacsBefore / convMacsAfter,
            ["layers"] = rows,
        };
    }
}
