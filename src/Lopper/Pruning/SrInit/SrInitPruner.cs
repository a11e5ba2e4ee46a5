using Lopper.Methods;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Structure;
using Lopper.Tensors;
using Lopper.Training;

namespace Lopper.Pruning.SrInit;

/// <summary>One row of the block table: a residual block, its score and whether it goes.</summary>
/// <param name="Index">Position among the graph's residual blocks.</param>
/// <param name="Block">The block.</param>
/// <param name="Score">The ranking score (SR-init: accuracy drop as a fraction; lower goes first).</param>
/// <param name="Accuracy">Accuracy with the block re-initialised (SR-init only), else null.</param>
/// <param name="Params">Trainable parameters removing the block saves (its branch; a projection shortcut stays).</param>
/// <param name="Candidate">Whether the block may be removed at all.</param>
/// <param name="Removed">Whether the rule removes it.</param>
public sealed record BlockScore(int Index, ResidualBlock Block, double Score, double? Accuracy, long Params, bool Candidate, bool Removed);

/// <summary>
/// Layer pruning by stochastic re-initialisation (SR-init; Tang, Lu, Xuan, ICASSP 2023): each residual
/// block is reset in isolation to the values of a seeded fresh model (weights and batch-norm statistics),
/// the accuracy drop is measured, the model is restored; the blocks that hurt least when reset are deleted
/// by block surgery. Seeded-random and weight-L1 rankings share the same selection rules, as baselines.
/// </summary>
public sealed class SrInitPruner(SrInitOptions options) : IPruningMethod
{
    /// <summary>The registry's entry.</summary>
    public static PruningMethodInfo Info { get; } = PruningMethodInfo.Create<SrInitOptions>(
        "srinit", "layer pruning by stochastic re-initialisation of residual blocks (SR-init)", o => new SrInitPruner(o), "blocks");

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
        if (Options.Blocks is int k && k > candidates)
            throw LopperInputException.ForOptions<SrInitOptions>($"Blocks {k}, but {model.Graph.Name} has only {candidates} removable residual block(s)" +
                (Options.IncludeDownsampling ? "" : " (down-sampling blocks excluded; IncludeDownsampling allows them)"), nameof(SrInitOptions.Blocks), nameof(SrInitOptions.IncludeDownsampling));

        double? baseline = null;
        int evalCount = 0;
        double[] scores;
        double?[] accuracies = new double?[blocks.Count];
        switch (Options.Criterion)
        {
            case BlockCriterion.SrInit:
                {
                    var eval = EvalLoader(context.Test, Options.EvalSamples);
                    evalCount = eval.Data.Count;
                    context.Log($"SR-init: resetting {blocks.Count} residual block(s) one at a time to donor seed {Options.DonorSeed}, scoring on {evalCount} image(s)");
                    var (b, acc) = ReinitAccuracies(model, blocks, eval, Options.DonorSeed);
                    baseline = b;
                    scores = acc.Select(a => b - a).ToArray();
                    for (int i = 0; i < acc.Length; i++) accuracies[i] = acc[i];
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
            table.Add(new BlockScore(i, blocks[i], scores[i], accuracies[i], BranchParams(model.Graph, blocks[i]), IsCandidate(blocks[i], Options), false));
        long totalParams = CostCounter.Totals(model.Graph).Params;
        var (selected, targetMet) = Select(table, Options, totalParams);
        table = table.Select(r => r with { Removed = selected.Contains(r.Index) }).ToList();

        long removedParams = table.Where(r => r.Removed).Sum(r => r.Params);
        context.Log(FormatTable(table, Options.Criterion, baseline));
        if (!targetMet)
            context.Log($"--target-params {Options.TargetParams:g4} cannot be reached by removing residual blocks: removing all {candidates} candidate(s) keeps {(double)(totalParams - removedParams) / totalParams:P1} of the parameters");

        var removed = table.Where(r => r.Removed).Select(r => r.Block).ToList();
        var pruned = BlockSurgery.Compact(model, removed, model.Graph.Name);
        return new PruneOutcome { Pruned = pruned, Details = Details(table, baseline, evalCount, totalParams, removedParams, targetMet) };
    }

    /// <summary>Whether the settings let <paramref name="block"/> be removed.</summary>
    public static bool IsCandidate(ResidualBlock block, SrInitOptions options) => !block.Downsamples || options.IncludeDownsampling;

    /// <summary>
    /// The SR-init measurement: accuracy of <paramref name="model"/> on <paramref name="eval"/>, then with each
    /// block in turn reset to the values of <c>new Model(graph, donorSeed)</c>. Batch-norm statistics are reset
    /// and not re-estimated, as in the official code. The model is left bit-identical to how it came in.
    /// </summary>
    public static (double Baseline, double[] Accuracies) ReinitAccuracies(Model model, IReadOnlyList<ResidualBlock> blocks, DataLoader eval, ulong donorSeed)
    {
        var donor = new Model(model.Graph, donorSeed);
        var executor = new Executor(model);
        double baseline = Evaluator.Evaluate(model, eval, executor).Accuracy;
        var acc = new double[blocks.Count];
        for (int i = 0; i < blocks.Count; i++)
        {
            var snapshot = BlockReinit.Apply(model, donor, blocks[i]);
            try { acc[i] = Evaluator.Evaluate(model, eval, executor).Accuracy; }
            finally { snapshot.Restore(); }
        }
        return (baseline, acc);
    }

    /// <summary>
    /// The blocks (table indices) a rule removes, lowest score first among candidates (ties: earlier block
    /// first), and whether a parameter target was met (always true for the other rules).
    /// </summary>
    public static (HashSet<int> Removed, bool TargetMet) Select(IReadOnlyList<BlockScore> table, SrInitOptions options, long totalParams)
    {
        var order = table.Where(r => r.Candidate).OrderBy(r => r.Score).ThenBy(r => r.Index).ToList();
        if (options.Tau is double tau) return (order.Where(r => r.Score <= tau).Select(r => r.Index).ToHashSet(), true);
        if (options.Blocks is int k) return (order.Take(k).Select(r => r.Index).ToHashSet(), true);
        double target = options.TargetParams!.Value * totalParams;
        var removed = new HashSet<int>();
        long kept = totalParams;
        foreach (var r in order)
        {
            if (kept <= target) break;
            removed.Add(r.Index);
            kept -= r.Params;
        }
        return (removed, kept <= target);
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
        if (baseline is double b) sb.Append(inv, $"baseline accuracy {b * 100:F2}%\n");
        sb.Append(inv, $"{"block".PadRight(nameWidth)}  {scoreHead,8}  {(criterion == BlockCriterion.SrInit ? "reset acc" : ""),9}  {"params",9}  removed\n");
        foreach (var r in table)
        {
            string acc = r.Accuracy is double a ? (a * 100).ToString("F2", inv) + "%" : "";
            string removed = r.Removed ? "yes" : r.Candidate ? "no" : "no (down-sampling)";
            sb.Append(inv, $"{r.Block.Name.PadRight(nameWidth)}  {r.Score,8:F4}  {acc,9}  {r.Params,9:N0}  {removed}\n");
        }
        return sb.ToString().TrimEnd('\n');
    }

    private JsonObject Details(List<BlockScore> table, double? baseline, int evalCount, long totalParams, long removedParams, bool targetMet)
    {
        var rows = new JsonArray();
        foreach (var r in table)
        {
            var row = new JsonObject { ["block"] = r.Block.Name, ["score"] = r.Score };
            if (r.Accuracy is double a) { row["drop"] = r.Score; row["accuracy_reset"] = a; }
            row["params"] = r.Params;
            row["downsamples"] = r.Block.Downsamples;
            row["removed"] = r.Removed;
            rows.Add(row);
        }
        var d = new JsonObject
        {
            ["criterion"] = Options.Criterion.ToString().ToLowerInvariant(),
            ["rule"] = Options.Tau is not null ? "tau" : Options.Blocks is not null ? "blocks" : "target-params",
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
            d["donor_seed"] = Options.DonorSeed;
            d["eval_samples"] = evalCount;
            d["baseline_accuracy"] = baseline;
        }
        d["blocks"] = rows;
        return d;
    }

    private static DataLoader EvalLoader(DataLoader test, int samples)
    {
        if (samples == 0 || samples >= test.Data.Count) return test;
        // Keep the test loader's normalisation (the training set's statistics), not the slice's own.
        return new DataLoader(test.Data.Slice(0, samples), test.BatchSize, test.Seed, shuffle: false, test.Mean.ToArray(), test.Std.ToArray());
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
