using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Methods;
using Lopper.Structure;

namespace Lopper.Pruning.Baselines;

/// <summary>
/// The shared shape of the channel baselines: score every prunable channel, plan a selection that meets
/// the budget, mask, compact. Subclasses only say how channels are scored.
/// </summary>
public abstract class ChannelPruner(Budget budget) : IPruningMethod
{
    /// <summary>The budget.</summary>
    public Budget Budget { get; } = budget.Validate();

    /// <inheritdoc/>
    public abstract string Name { get; }

    /// <summary>Whether global ranking normalises scores per group.</summary>
    protected virtual bool NormalizePerGroup => true;

    /// <summary>Scores per prunable group.</summary>
    protected abstract Dictionary<int, double[]> Score(PruneContext context, ChannelGroups groups);

    /// <inheritdoc/>
    public PruneOutcome Prune(PruneContext context)
    {
        var model = context.Model;
        var groups = ChannelGroups.Analyze(model.Graph);
        var scores = Score(context, groups);
        var selection = ChannelPlanner.Plan(model.Graph, groups, scores, Budget, NormalizePerGroup);
        ChannelSurgery.Mask(model, groups, selection);
        var compact = ChannelSurgery.Compact(model, groups, selection, model.Graph.Name);
        var widths = new JsonArray();
        foreach (var g in groups.Prunable)
            widths.Add(new JsonObject { ["group"] = g.Name, ["channels"] = g.Channels, ["kept"] = selection.KeptCount(g) });
        return new PruneOutcome
        {
            Pruned = compact,
            Details = new JsonObject
            {
                ["budget"] = new JsonObject { ["kind"] = Budget.Kind.ToString().ToLowerInvariant(), ["fraction"] = Budget.Fraction, ["scope"] = Budget.Scope, ["max_layer_ratio"] = Budget.MaxLayerRatio, ["round_to"] = Budget.RoundTo },
                ["groups"] = widths,
            },
        };
    }
}

/// <summary>L1-norm filter pruning (Li et al., "Pruning Filters for Efficient ConvNets", 2017).</summary>
public sealed class L1FilterPruner(Budget budget) : ChannelPruner(budget)
{
    /// <summary>The registry's entry.</summary>
    public static PruningMethodInfo Info { get; } = PruningMethodInfo.Create<BudgetOptions>(
        "l1", "L1-norm filter pruning (Li et al. 2017)", o => new L1FilterPruner(o.ToBudget()), "target-macs", needsData: false);

    /// <inheritdoc/>
    public override string Name => "l1";
    /// <inheritdoc/>
    protected override Dictionary<int, double[]> Score(PruneContext context, ChannelGroups groups) => ChannelImportance.L1(context.Model, groups);
}

/// <summary>Random channel pruning: the sanity floor.</summary>
public sealed class RandomChannelPruner(Budget budget) : ChannelPruner(budget)
{
    /// <summary>The registry's entry.</summary>
    public static PruningMethodInfo Info { get; } = PruningMethodInfo.Create<BudgetOptions>(
        "random", "seeded random channels: the sanity floor", o => new RandomChannelPruner(o.ToBudget()), "target-macs", needsData: false);

    /// <inheritdoc/>
    public override string Name => "random";
    /// <inheritdoc/>
    protected override Dictionary<int, double[]> Score(PruneContext context, ChannelGroups groups) => ChannelImportance.Random(groups, context.Seed);
}
