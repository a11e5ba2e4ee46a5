using Lopper.Methods;
using Lopper.Pruning.Baselines;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Structure;
using Lopper.Tensors;
using Lopper.Training;

namespace Lopper.Pruning.SrInit;

/// <summary>One row of the block table: a residual block, its score and whether it goes.</summary>
/// <param name="Index">Position among the graph's residual blocks.</param>
/// <param name="Block">The block.</param>
/// <param name="Score">The ranking score (SR-init: accuracy drop as a fraction; lower goes first).</param>
/// <param name="Accuracy">Accuracy on the probe with the block re-initialised, averaged over the donors (SR-init only), else null.</param>
/// <param name="Params">Trainable parameters removing the block saves (its branch; a projection shortcut stays).</param>
/// <param name="Candidate">Whether the block may be removed at all.</param>
/// <param name="Removed">Whether the rule removes it.</param>
/// <param name="Macs">MACs for one image removing the block saves (its branch).</param>
public sealed record BlockScore(int Index, ResidualBlock Block, double Score, double? Accuracy, long Params, bool Candidate, bool Removed, long Macs = 0);

/// <summary>
/// Layer pruning by stochastic re-initialisation (SR-init; Tang, Lu, Xuan, ICASSP 2023): each residual
/// block is reset in isolation to the values of a seeded fresh model, batch-norm statistics are re-estimated,
/// the accuracy drop on a class-balanced training probe is measured (averaged over several donor models), the
/// model is restored; the blocks that hurt least when reset, per MAC or parameter saved under a budget, are
/// deleted by block surgery. Seeded-random and weight-L1 rankings share the same selection rules, as baselines.
/// </summary>
public sealed class SrInitPruner(SrInitOptions options) : IPruningMethod
{
    /// <summary>The registry's entry.</summary>
    public static PruningMethodInfo Info { get; } = PruningMethodInfo.Create<SrInitOptions>(
        "srinit", "layer pruning by stochastic re-initialisation of residual blocks (SR-init)", o => new SrInitPruner(o), "target-macs");

    /// <summary>The settings.</summary>
    public SrInitOptions Options { get; } = options.Validate();

    /// <inheritdoc/>
    public string Name => Options.Criterion switch
    {
        BlockCriterion.SrInit => "srinit",
        BlockCriterion.Random => "block-random",
        _ => "block-l1",
    };

    /// <inheritdoc/>
    public PruneOutcome Prune(PruneContext context)
    {
        var model = context.Model;
        var blocks = ResidualBlocks.Find(model.Graph);
        int candidates = blocks.Count(b => IsCandidate(b, Options));
        // Without a block to remove a budget would be spent by the top-up alone: L1 filter pruning under SR-init's name.
        if (candidates == 0 && (Options.TargetMacs ?? Options.TargetParams) is not null)
            throw LopperInputException.ForOptions<SrInitOptions>($"{model.Graph.Name} has no removable residual block" +
                (Options.IncludeDownsampling || blocks.Count == 0 ? "" : " (down-sampling blocks excluded; IncludeDownsampling allows them)") +
                "; SR-init removes residual blocks: use a filter method (l1, bn-slimming, ...) for this model", Options.TargetMacs is not null ? nameof(SrInitOptions.TargetMacs) : nameof(SrInitOptions.TargetParams), nameof(SrInitOptions.IncludeDownsampling));
        if (Options.Blocks is int k && k > candidates)
            throw LopperInputException.ForOptions<SrInitOptions>($"Blocks {k}, but {model.Graph.Name} has only {candidates} removable residual block(s)" +
                (Options.IncludeDownsampling ? "" : " (down-sampling blocks excluded; IncludeDownsampling allows them)"), nameof(SrInitOptions.Blocks), nameof(SrInitOptions.IncludeDownsampling));

        double? baseline = null;
        int probeCount = 0;
        double[] scores;
        double?[] accuracies = new double?[blocks.Count];
        double[][]? perSeed = null;
        var donorSeeds = Enumerable.Range(0, Options.DonorSeeds).Select(i => Options.DonorSeed + (ulong)i).ToArray();
        switch (Options.Criterion)
        {
            case BlockCriterion.SrInit:
                {
                    var probe = SrInitProbe.Draw(context.Train, Options.ProbePerClass, context.Seed);
                    probeCount = probe.Data.Count;
                    int bnBatches = Math.Min(Options.ResetBnBatches, context.Train.BatchesPerEpoch);
                    context.Log($"SR-init: resetting {blocks.Count} residual block(s) one at a time to donor seed(s) {string.Join(", ", donorSeeds)}, " +
                        $"{(bnBatches > 0 ? $"re-estimating batch-norm statistics on {bnBatches} training batch(es), " : "")}scoring on a training probe of {probeCount} image(s) ({Options.ProbePerClass}/class)");
                    var (b, acc) = ReinitAccuracies(model, blocks, probe, donorSeeds, context.Train, bnBatches, context.Seed);
                    baseline = b;
                    perSeed = acc;
                    scores = new double[blocks.Count];
                    for (int i = 0; i < blocks.Count; i++)
                    {
                        double mean = acc.Average(a => a[i]);
                        accuracies[i] = mean;
                        scores[i] = b - mean;
                    }
                    break;
                }
            case BlockCriterion.Random:
                scores = RandomScores(blocks.Count, context.Seed);
                break;
            default:
                scores = blocks.Select(b => MeanAbsWeight(model, b)).ToArray();
                break;
        }

        var table = new List<BlockScore>(blocks.Count);
        for (int i = 0; i < blocks.Count; i++)
            table.Add(new BlockScore(i, blocks[i], scores[i], accuracies[i], BranchParams(model.Graph, blocks[i]), IsCandidate(blocks[i], Options), false, BranchMacs(model.Graph, blocks[i])));
        var (totalParams, totalMacs) = CostCounter.Totals(model.Graph);
        var (selected, targetMet) = BlockSelection.Select(table, Options, totalParams, totalMacs);
        table = table.Select(r => r with { Removed = selected.Contains(r.Index) }).ToList();

        context.Log(FormatTable(table, Options.Criterion, baseline));
        var removed = table.Where(r => r.Removed).Select(r => r.Block).ToList();
        var pruned = BlockSurgery.Compact(model, removed, model.Graph.Name);
        var (paramsAfter, macsAfter) = CostCounter.Totals(pruned.Graph);
        JsonObject? topUp = null;
        if (!targetMet && Options.TopUp == WidthTopUp.L1 && (Options.TargetMacs ?? Options.TargetParams) is double goal)
        {
            bool macs = Options.TargetMacs is not null;
            double keptShare = macs ? (double)macsAfter / totalMacs : (double)paramsAfter / totalParams;
            var budget = new Budget(macs ? BudgetKind.Macs : BudgetKind.Params, goal / keptShare);
            context.Log($"thinning the kept layers' filters by L1 norm from {keptShare:P1} to {goal:P1} of the {(macs ? "MACs" : "parameters")} (--top-up l1)");
            var thinned = new L1FilterPruner(budget).Prune(new PruneContext { Model = pruned, TrainConfig = context.TrainConfig, Seed = context.Seed, Log = context.Log });
            pruned = thinned.Pruned;
            (paramsAfter, macsAfter) = CostCounter.Totals(pruned.Graph);
            targetMet = (macs ? (double)macsAfter / totalMacs : (double)paramsAfter / totalParams) <= goal + Options.BudgetTolerance;
            topUp = new JsonObject { ["method"] = "l1", ["kept_share_before"] = keptShare, ["fraction_of_blocks_result"] = budget.Fraction, ["groups"] = thinned.Details["groups"]!.DeepClone() };
        }
        if (!targetMet)
            context.Log($"{(Options.TargetMacs is not null ? "--target-macs" : "--target-params")} {Options.TargetMacs ?? Options.TargetParams:g4} cannot be reached " +
                (topUp is null ? $"by removing residual blocks: removing all {candidates} candidate(s)" : "by removing residual blocks and thinning filters (each layer keeps at least a tenth): the result") +
                $" keeps {(double)macsAfter / totalMacs:P1} of the MACs and {(double)paramsAfter / totalParams:P1} of the parameters");
        var details = Details(table, baseline, probeCount, totalParams, totalParams - paramsAfter, targetMet);
        details["macs_kept_fraction"] = totalMacs == 0 ? 1.0 : (double)macsAfter / totalMacs;
        details["top_up"] = topUp;
        if (perSeed is not null)
        {
            var rows = details["blocks"]!.AsArray();
            for (int i = 0; i < rows.Count; i++)
                rows[i]!["accuracy_reset_per_donor"] = new JsonArray(perSeed.Select(a => (JsonNode?)a[i]).ToArray());
            details["donor_seeds"] = new JsonArray(donorSeeds.Select(x => (JsonNode?)x).ToArray());
            details["reset_bn_batches"] = Math.Min(Options.ResetBnBatches, context.Train.BatchesPerEpoch);
        }
        return new PruneOutcome { Pruned = pruned, Details = details };
    }

    /// <summary>Whether the settings let <paramref name="block"/> be removed.</summary>
    public static bool IsCandidate(ResidualBlock block, SrInitOptions options) => !block.Downsamples || options.IncludeDownsampling;

    /// <summary>
    /// The SR-init measurement: accuracy of <paramref name="model"/> on <paramref name="probe"/>, then, for each donor
    /// <c>new Model(graph, seed)</c> of <paramref name="donorSeeds"/>, with each block in turn reset to the donor's values
    /// (batch-norm statistics included). With <paramref name="bnBatches"/> &gt; 0 every batch-norm layer's statistics are
    /// then re-estimated on that many batches of <paramref name="train"/> (the same batches for every block) before
    /// scoring, so the drop measures what the block's weights carried rather than the mismatch of reset statistics.
    /// Returns accuracies per donor, per block. The model is left bit-identical to how it came in.
    /// </summary>
    public static (double Baseline, double[][] Accuracies) ReinitAccuracies(Model model, IReadOnlyList<ResidualBlock> blocks, DataLoader probe,
        IReadOnlyList<ulong> donorSeeds, DataLoader? train = null, int bnBatches = 0, ulong seed = 0)
    {
        if (bnBatches > 0 && train is null) throw new ArgumentException("re-estimating batch-norm statistics needs training data", nameof(train));
        double baseline = Evaluator.Evaluate(model, probe).Accuracy;
        // Re-estimation rewrites every batch-norm layer, not only the block's; those are put back too.
        var allStats = BlockSnapshot.Take(model, Enumerable.Range(0, model.Graph.Nodes.Count).Where(i => model.Graph.Nodes[i].Op is BatchNorm2dOp));
        var acc = new double[donorSeeds.Count][];
        for (int d = 0; d < donorSeeds.Count; d++)
        {
            var donor = new Model(model.Graph, donorSeeds[d]);
            acc[d] = new double[blocks.Count];
            for (int i = 0; i < blocks.Count; i++)
            {
                var snapshot = BlockReinit.Apply(model, donor, blocks[i]);
                try
                {
                    if (bnBatches > 0) BatchNormRecalibration.Run(model, train!, bnBatches, seed);
                    acc[d][i] = Evaluator.Evaluate(model, probe).Accuracy;
                }
                finally
                {
                    snapshot.Restore();
                    allStats.Restore();
                }
            }
        }
        return (baseline, acc);
    }

    /// <summary>The blocks (table indices) a rule removes; see <see cref="BlockSelection.Select"/>.</summary>
    public static (HashSet<int> Removed, bool TargetMet) Select(IReadOnlyList<BlockScore> table, SrInitOptions options, long totalParams, long totalMacs)
        => BlockSelection.Select(table, options, totalParams, totalMacs);

    /// <summary>MACs for one image of a block's branch: what its removal saves.</summary>
    public static long BranchMacs(ModelGraph graph, ResidualBlock block)
    {
        long n = 0;
        foreach (int i in block.Branch) n += graph.Nodes[i].Op.Macs(graph.InputShapesOf(graph.Nodes[i]));
        return n;
    }

    /// <summary>Trainable parameters of a block's branch: what its removal saves.</summary>
    public static long BranchParams(ModelGraph graph, ResidualBlock block)
    {
        long n = 0;
        foreach (int i in block.Branch)
        {
            var node = graph.Nodes[i];
            foreach (var spec in node.Op.Parameters(graph.InputShapesOf(node)))
                if (spec.Trainable) n += Tensor.Numel(spec.Shape);
        }
        return n;
    }

    /// <summary>The block table as aligned text, one row per block in graph order.</summary>
    public static string FormatTable(IReadOnlyList<BlockScore> table, BlockCriterion criterion, double? baseline)
    {
        var inv = CultureInfo.InvariantCulture;
        string scoreHead = criterion switch { BlockCriterion.SrInit => "drop", BlockCriterion.Random => "random", _ => "mean|w|" };
        int nameWidth = Math.Max(5, table.Count == 0 ? 0 : table.Max(r => r.Block.Name.Length));
        var sb = new StringBuilder();
        if (baseline is double b) sb.Append(inv, $"baseline accuracy on the probe {b * 100:F2}%\n");
        sb.Append(inv, $"{"block".PadRight(nameWidth)}  {scoreHead,8}  {(criterion == BlockCriterion.SrInit ? "reset acc" : ""),9}  {"params",9}  {"MACs",11}  removed\n");
        foreach (var r in table)
        {
            string acc = r.Accuracy is double a ? (a * 100).ToString("F2", inv) + "%" : "";
            string removed = r.Removed ? "yes" : r.Candidate ? "no" : "no (down-sampling)";
            sb.Append(inv, $"{r.Block.Name.PadRight(nameWidth)}  {r.Score,8:F4}  {acc,9}  {r.Params,9:N0}  {r.Macs,11:N0}  {removed}\n");
        }
        return sb.ToString().TrimEnd('\n');
    }

    private JsonObject Details(List<BlockScore> table, double? baseline, int probeCount, long totalParams, long removedParams, bool targetMet)
    {
        var rows = new JsonArray();
        foreach (var r in table)
        {
            var row = new JsonObject { ["block"] = r.Block.Name, ["score"] = r.Score };
            if (r.Accuracy is double a) { row["drop"] = r.Score; row["accuracy_reset"] = a; }
            row["params"] = r.Params;
            row["macs"] = r.Macs;
            row["downsamples"] = r.Block.Downsamples;
            row["removed"] = r.Removed;
            rows.Add(row);
        }
        var d = new JsonObject
        {
            ["criterion"] = Options.Criterion.ToString().ToLowerInvariant(),
            ["rule"] = Options.Tau is not null ? "tau" : Options.Blocks is not null ? "blocks" : Options.TargetMacs is not null ? "target-macs" : "target-params",
            ["target_macs"] = Options.TargetMacs,
            ["tau"] = Options.Tau,
            ["blocks_requested"] = Options.Blocks,
            ["target_params"] = Options.TargetParams,
            ["target_met"] = targetMet,
            ["include_downsampling"] = Options.IncludeDownsampling,
            ["blocks_removed"] = table.Count(r => r.Removed),
            ["params_removed"] = removedParams,
            ["params_kept_fraction"] = totalParams == 0 ? 1.0 : (double)(totalParams - removedParams) / totalParams,
        };
        if (Options.Criterion == BlockCriterion.SrInit)
        {
            d["probe_per_class"] = Options.ProbePerClass;
            d["probe_images"] = probeCount;
            d["baseline_accuracy"] = baseline;
        }
        d["blocks"] = rows;
        return d;
    }

    private static double[] RandomScores(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var s = new double[count];
        for (int i = 0; i < count; i++) s[i] = rng.NextDouble();
        return s;
    }

    /// <summary>Mean rather than total |w|: a total would just rank blocks by width, removing the narrow stages first.</summary>
    private static double MeanAbsWeight(Model model, ResidualBlock block)
    {
        double sum = 0;
        long n = 0;
        foreach (int i in block.Branch)
            foreach (var p in model.NodeParameters[i])
            {
                if (!p.Trainable || p.Spec.Name != "weight" || p.Owner.Op.Type is not ("conv2d" or "linear")) continue;
                foreach (var v in p.Value.Span) sum += Math.Abs(v);
                n += p.Value.Length;
            }
        return n == 0 ? 0 : sum / n;
    }
}
