using System.Numerics.Tensors;
using Lopper.Methods;
using Lopper.Pruning;
using Lopper.Pruning.Baselines;
using Lopper.Structure;

namespace Lopper.Tests.Runs;

/// <summary>
/// A channel-scoring method written the way a user (or a new built-in) adds one: this file and one registration
/// line. It scores each channel by the L2 norm of its filters; the budget, planning, masking and compaction are
/// <see cref="ChannelPruner"/>'s.
/// </summary>
public sealed class L2FilterPruner(Budget budget) : ChannelPruner(budget)
{
    /// <summary>The registry's entry: name, summary, options record (the shared budget options) and default budget option.</summary>
    public static PruningMethodInfo Info { get; } = PruningMethodInfo.Create<BudgetOptions>(
        "l2", "L2-norm filter pruning (a test method)", o => new L2FilterPruner(o.ToBudget()), "target-macs", needsData: false);

    /// <inheritdoc/>
    public override string Name => "l2";

    /// <inheritdoc/>
    protected override Dictionary<int, double[]> Score(PruneContext context, ChannelGroups groups)
    {
        var scores = new Dictionary<int, double[]>();
        foreach (var g in groups.Prunable)
        {
            var s = new double[g.Channels];
            foreach (var slice in g.Slices)
            {
                if (slice.Consumes || !g.Producers.Contains(slice.Node) || !slice.Parameter.EndsWith(".weight", StringComparison.Ordinal)) continue;
                var w = context.Model.Find(slice.Parameter)!.Value;
                for (int c = 0; c < g.Channels; c++)
                {
                    var filter = AxisSlicing.Gather(w, slice.Axis, [c], slice.Width);
                    s[c] += TensorPrimitives.Norm<float>(filter.Span);
                }
            }
            scores[g.Id] = s;
        }
        return scores;
    }
}
