using Lopper.Graph;
using Lopper.Structure;

namespace Lopper.Pruning;

/// <summary>
/// Turns per-channel importance scores into a channel selection that meets a budget: a bisection over
/// one knob (a removal fraction for layer scope, a score threshold for global scope), costing each
/// candidate on the resized graph.
/// </summary>
public static class ChannelPlanner
{
    /// <summary>
    /// Chooses the channels to keep. <paramref name="scores"/> maps prunable group ids to one score per
    /// channel (higher = more important). With <paramref name="normalizePerGroup"/>, global ranking divides
    /// each group's scores by their mean, so layers with larger weights do not win by scale alone.
    /// </summary>
    public static ChannelSelection Plan(ModelGraph graph, ChannelGroups groups, IReadOnlyDictionary<int, double[]> scores, Budget budget, bool normalizePerGroup = true)
    {
        budget.Validate();
        var (p0, m0) = CostCounter.Totals(graph);
        double target = budget.Fraction * (budget.Kind == BudgetKind.Macs ? m0 : p0);
        var order = new Dictionary<int, int[]>();
        var norm = new Dictionary<int, double[]>();
        foreach (var (g, s) in scores)
        {
            if (!groups.Groups[g].Prunable) throw new ArgumentException($"group {groups.Groups[g].Name} is not prunable");
            double mean = s.Average();
            norm[g] = normalizePerGroup && mean > 0 ? s.Select(v => v / mean).ToArray() : s;
            order[g] = Enumerable.Range(0, s.Length).OrderBy(i => s[i]).ThenBy(i => i).ToArray();
        }

        // Removal count per group for a knob value in [0, 1]; monotone in the knob.
        double lo = scores.Count == 0 ? 0 : norm.Values.SelectMany(v => v).Min(), hi = scores.Count == 0 ? 0 : norm.Values.SelectMany(v => v).Max();
        Dictionary<int, int> Removals(double knob)
        {
            var r = new Dictionary<int, int>();
            foreach (var (g, s) in norm)
            {
                int c = s.Length;
                int remove = budget.Scope == "layer"
                    ? (int)Math.Floor(knob * c)
                    : s.Count(v => v < lo + knob * (hi - lo + 1e-12));
                remove = Math.Min(remove, (int)Math.Floor(budget.MaxLayerRatio * c));
                int kept = c - remove;
                kept = Math.Min(c, Math.Max(1, (kept + budget.RoundTo - 1) / budget.RoundTo * budget.RoundTo));
                r[g] = c - kept;
            }
            return r;
        }
        double Cost(Dictionary<int, int> removals)
        {
            var resized = ChannelSurgery.ResizedGraph(graph, groups, g => groups.Groups[g].Channels - removals.GetValueOrDefault(g));
            var (p, m) = CostCounter.Totals(resized);
            return budget.Kind == BudgetKind.Macs ? m : p;
        }

        double a = 0, b = 1;
        if (Cost(Removals(1)) > target) a = 1; // even the maximum allowed cut misses the budget: take it
        else
            for (int it = 0; it < 40; it++)
            {
                double mid = (a + b) / 2;
                if (Cost(Removals(mid)) <= target) b = mid; else a = mid;
            }
        var final = Removals(a >= 1 ? 1 : b);
        // The knob moves in steps of whole channels, so the bisection can undershoot the budget; give back
        // the most important removed channels one at a time while the budget still holds.
        if (budget.RoundTo == 1 && a < 1)
        {
            var candidates = final.Where(kv => kv.Value > 0)
                .Select(kv => (Group: kv.Key, Score: norm[kv.Key][order[kv.Key][kv.Value - 1]]))
                .ToList();
            var queue = new PriorityQueue<int, double>();
            foreach (var (g, sc) in candidates) queue.Enqueue(g, -sc);
            while (queue.TryDequeue(out int g, out _))
            {
                final[g]--;
                if (Cost(final) > target) { final[g]++; continue; }
                if (final[g] > 0) queue.Enqueue(g, -norm[g][order[g][final[g] - 1]]);
            }
        }
        var selection = new ChannelSelection();
        foreach (var (g, remove) in final)
        {
            if (remove == 0) continue;
            var drop = new HashSet<int>(order[g].Take(remove));
            selection.Keep(groups.Groups[g], Enumerable.Range(0, groups.Groups[g].Channels).Where(i => !drop.Contains(i)));
        }
        return selection;
    }
}
