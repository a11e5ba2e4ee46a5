using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Methods;

namespace Lopper.Pruning.Baselines;

/// <summary>
/// Global unstructured magnitude pruning: the smallest |w| over all convolution and linear weights go,
/// until the parameter budget is met. Nothing can be compacted, so MACs and latency do not change; the
/// masks are held during fine-tuning.
/// </summary>
public sealed class MagnitudePruner(Budget budget) : IPruningMethod
{
    /// <summary>The budget (only the parameter kind is meaningful).</summary>
    public Budget Budget { get; } = budget.Validate();

    /// <summary>The registry's entry.</summary>
    public static PruningMethodInfo Info { get; } = PruningMethodInfo.Create<BudgetOptions>(
        "magnitude", "global unstructured magnitude pruning (masks; no MACs go)", o => new MagnitudePruner(o.ToBudget()), "target-params", needsData: false);

    /// <inheritdoc/>
    public string Name => "magnitude";

    /// <inheritdoc/>
    public PruneOutcome Prune(PruneContext context)
    {
        if (Budget.Kind != BudgetKind.Params)
            throw LopperInputException.ForOptions<BudgetOptions>("magnitude pruning is unstructured and cannot reduce MACs: use TargetParams", nameof(BudgetOptions.TargetParams), nameof(BudgetOptions.TargetMacs));
        var model = context.Model;
        var weights = model.Parameters.Where(p => p.Trainable && p.Spec.Name == "weight" && p.Owner.Op.Type is "conv2d" or "linear").ToList();
        long total = model.ParameterCount();
        long prunable = weights.Sum(p => (long)p.Value.Length);
        long toRemove = Math.Min(prunable, (long)Math.Ceiling(total * (1 - Budget.Fraction)));
        var all = new float[prunable];
        long k = 0;
        foreach (var p in weights) foreach (var v in p.Value.Span) all[k++] = MathF.Abs(v);
        Array.Sort(all);
        float threshold = toRemove == 0 ? float.NegativeInfinity : all[toRemove - 1];
        var masks = new ParameterMasks();
        long removed = 0;
        foreach (var p in weights)
        {
            var idx = new List<int>();
            var s = p.Value.Span;
            for (int i = 0; i < s.Length && removed + idx.Count < toRemove; i++)
                if (MathF.Abs(s[i]) <= threshold) idx.Add(i);
            removed += idx.Count;
            masks.AddElements(model, p.Name, idx);
        }
        masks.Apply(model);
        return new PruneOutcome
        {
            Pruned = model,
            Masks = masks,
            Details = new JsonObject { ["weights_removed"] = removed, ["threshold"] = threshold, ["note"] = "unstructured: params_after counts nonzero weights; MACs and latency are those of the dense model" },
        };
    }
}
