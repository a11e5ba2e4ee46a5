namespace Lopper.Pruning.SrInit;

/// <summary>Which residual blocks a rule of <see cref="SrInitOptions"/> removes, given the block table.</summary>
public static class BlockSelection
{
    /// <summary>
    /// The blocks (table indices) the rule removes and whether a budget was met (always true for Tau and Blocks).
    /// Tau and Blocks take candidates by score (ties: earlier block first). A budget (TargetMacs, TargetParams) asks
    /// for the least total drop whose removed cost brings the kept fraction to at most the target plus
    /// <see cref="SrInitOptions.BudgetTolerance"/> (a covering
    /// knapsack). For SR-init it is solved greedily by drop per unit saved (a cheap block that hurts a little is not
    /// worth a heavy one that hurts as much), where before each step the single cheapest-in-drop block that would
    /// finish the budget on its own is also tried and the better of the two kept; for the baselines' scores, which
    /// are not drops, candidates go by score. Finally removed blocks that still fit the budget are put back, the
    /// last taken first. With <see cref="SrInitOptions.TopUp"/> set and that choice more than the tolerance under the
    /// target, blocks are instead taken in the same order while the kept share stays at least the target minus the
    /// tolerance, and TargetMet says whether they reached it (false: the pruner thins the rest).
    /// </summary>
    public static (HashSet<int> Removed, bool TargetMet) Select(IReadOnlyList<BlockScore> table, SrInitOptions options, long totalParams, long totalMacs)
    {
        var byScore = table.Where(r => r.Candidate).OrderBy(r => r.Score).ThenBy(r => r.Index).ToList();
        if (options.Tau is double tau) return (byScore.Where(r => r.Score <= tau).Select(r => r.Index).ToHashSet(), true);
        if (options.Blocks is int k) return (byScore.Take(k).Select(r => r.Index).ToHashSet(), true);

        bool macs = options.TargetMacs is not null;
        long total = macs ? totalMacs : totalParams;
        // The budget is met within the tolerance: whole blocks rarely land on the target itself.
        double target = ((options.TargetMacs ?? options.TargetParams!.Value) + options.BudgetTolerance) * total;
        long Cost(BlockScore r) => macs ? r.Macs : r.Params;
        bool drops = options.Criterion == BlockCriterion.SrInit;
        var order = drops
            ? table.Where(r => r.Candidate).OrderBy(r => r.Score / Math.Max(1, Cost(r))).ThenBy(r => r.Index).ToList()
            : byScore;

        var taken = new List<BlockScore>();
        List<BlockScore>? best = null;
        double bestDrop = double.PositiveInfinity, drop = 0;
        long kept = total;
        foreach (var r in order)
        {
            if (kept <= target) break;
            if (drops)
            {
                // Finishing with one block may beat continuing down the ratio order.
                double need = kept - target;
                BlockScore? finish = null;
                foreach (var c in order)
                    if (!taken.Contains(c) && Cost(c) >= need && (finish is null || c.Score < finish.Score)) finish = c;
                if (finish is not null && drop + finish.Score < bestDrop)
                {
                    bestDrop = drop + finish.Score;
                    best = [.. taken, finish];
                }
            }
            taken.Add(r);
            kept -= Cost(r);
            drop += r.Score;
        }
        if (kept <= target && drop < bestDrop) best = taken;
        best ??= taken;
        kept = total - best.Sum(Cost);
        // With a top-up the blocks stop at the target: whatever they leave is thinned away, what they overshoot is lost.
        double floor = ((options.TargetMacs ?? options.TargetParams!.Value) - options.BudgetTolerance) * total;
        if (options.TopUp != WidthTopUp.None && kept < floor)
        {
            best = [];
            kept = total;
            foreach (var r in order)
                if (kept - Cost(r) >= floor)
                {
                    best.Add(r);
                    kept -= Cost(r);
                }
            return (best.Select(r => r.Index).ToHashSet(), kept <= target);
        }
        if (kept <= target)
            for (int i = best.Count - 1; i >= 0; i--)
                if (kept + Cost(best[i]) <= target)
                {
                    kept += Cost(best[i]);
                    best.RemoveAt(i);
                }
        return (best.Select(r => r.Index).ToHashSet(), kept <= target);
    }
}
