using Lopper.Graph;
using Lopper.Graph.Ops;

namespace Lopper.Pruning.ComplexityAware;

/// <summary>What the fold deletes under a budget.</summary>
/// <param name="Deleted">Gate entries (key, index) to delete besides those at 0.</param>
/// <param name="LastTheta">The largest theta deleted (0 when only gates below 0.5 went).</param>
/// <param name="KeptBlocks">Blocks kept although their theta ranked them for deletion: deleting them overshot the budget.</param>
/// <param name="Reached">False when even deleting every unsettled gate keeps more than the budget.</param>
public sealed record FoldChoice(IReadOnlySet<(string Key, int Index)> Deleted, float LastTheta, IReadOnlyList<string> KeptBlocks, bool Reached);

/// <summary>
/// The fold's decision under a budget when gates have not settled at 0 or 1. Gate entries are deleted lowest theta
/// first: everything below 0.5 (the spec's rounding), then on until the folded network meets the budget. A residual
/// block is coarse (a ResNet-20 block is about 11.6% of its MACs), so when the deletion that crosses the budget, or
/// the rounding alone, lands more than the tolerance below it because of a block, that block stays (folded in as a
/// scale of its theta) and the search goes on with what ranks after it. Each trial folds a copy of the model.
/// </summary>
public static class FoldSelection
{
    /// <summary>
    /// Chooses the entries to delete so that <paramref name="cost"/> of the folded model is at most
    /// <paramref name="budget"/> and, where whole blocks allow, not below <paramref name="budget"/> minus
    /// <paramref name="tolerance"/> (both in the cost's units).
    /// </summary>
    public static FoldChoice Choose(Model model, Func<Model, long> cost, double budget, double tolerance)
    {
        var gates = GateSet.Of(model);
        var ranked = new List<(string Key, int Index, float Theta, bool Block)>();
        foreach (var g in gates.Gates)
        {
            var theta = gates.Read(g, GateOp.ThetaIndex);
            for (int j = 0; j < theta.Length; j++)
                if (theta[j] is > 0f and < 1f) ranked.Add((g.Key, j, theta[j], g.IsBlock));
        }
        // Stable: equal thetas keep gate order, so the choice does not depend on the sort's implementation.
        var order = Enumerable.Range(0, ranked.Count).OrderBy(i => ranked[i].Theta).ThenBy(i => i).Select(i => ranked[i]).ToList();
        var keptBlocks = new List<string>();
        while (true)
        {
            // Each trial folds a copy of the model; the searches below ask for some prefixes more than once.
            var known = new Dictionary<int, long>();
            long Kept(int k)
            {
                if (known.TryGetValue(k, out long c)) return c;
                var gone = new HashSet<(string, int)>();
                for (int i = 0; i < k; i++) gone.Add((order[i].Key, order[i].Index));
                return known[k] = cost(GateRemoval.Finish(model.Copy(), (key, j, _) => gone.Contains((key, j))).Result.Model);
            }
            // The smallest prefix whose cost satisfies `fits`; costs fall as the prefix grows.
            int Smallest(Func<long, bool> fits)
            {
                int lo = 0, hi = order.Count;
                while (lo < hi)
                {
                    int mid = (lo + hi) / 2;
                    if (fits(Kept(mid))) hi = mid; else lo = mid + 1;
                }
                return lo;
            }
            bool reached = Kept(order.Count) <= budget;
            int rounding = order.Count(e => e.Theta < 0.5f);
            int k = reached ? Math.Max(rounding, Smallest(c => c <= budget)) : order.Count;
            if (Kept(k) >= budget - tolerance || k == 0) return Result(k, reached);
            // Too far under: the entry that first takes the cost below the tolerance band decides.
            int crossing = Smallest(c => c < budget - tolerance);
            if (crossing == 0) return Result(k, reached);
            var culprit = order[crossing - 1];
            if (!culprit.Block) return Result(k, reached);
            keptBlocks.Add(culprit.Key[GateOp.BlockPrefix.Length..]);
            order.RemoveAt(crossing - 1);
        }

        FoldChoice Result(int k, bool reached)
        {
            var deleted = new HashSet<(string Key, int Index)>();
            for (int i = 0; i < k; i++) deleted.Add((order[i].Key, order[i].Index));
            return new FoldChoice(deleted, k > 0 ? order[k - 1].Theta : 0f, keptBlocks, reached);
        }
    }
}
