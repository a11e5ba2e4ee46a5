using Lopper.Graph;

namespace Lopper.Structure;

/// <summary>What a masked model would cost once compacted.</summary>
/// <param name="Params">Trainable parameters of the compacted model.</param>
/// <param name="Macs">MACs of the compacted model.</param>
/// <param name="NonzeroParams">Nonzero trainable values (lower when unstructured zeros remain).</param>
/// <param name="Layers">Per-layer costs of the compacted model.</param>
public sealed record EffectiveCostResult(long Params, long Macs, long NonzeroParams, IReadOnlyList<LayerCost> Layers);

/// <summary>
/// Costs a masked model honestly: residual blocks whose branch is all zero, channels nobody reads and
/// all-zero kernel columns are compacted away first, and only what remains is counted.
/// </summary>
public static class EffectiveCost
{
    /// <summary>Compacts a copy of the model's structure and counts it.</summary>
    public static EffectiveCostResult Of(Model model)
    {
        var compact = Compact(model);
        var (p, m) = CostCounter.Totals(compact.Graph);
        long nonzero = 0;
        foreach (var prm in compact.Parameters)
            if (prm.Trainable) foreach (var v in prm.Value.Span) if (v != 0) nonzero++;
        return new EffectiveCostResult(p, m, nonzero, CostCounter.Layers(compact.Graph));
    }

    /// <summary>The compacted equivalent of a masked model (same outputs).</summary>
    public static Model Compact(Model model)
    {
        var deadBlocks = ResidualBlocks.Find(model.Graph)
            .Where(b => b.Branch.All(n => model.NodeParameters[n].Where(p => p.Trainable).All(p => IsZero(p.Value.Span))))
            .ToList();
        var m = deadBlocks.Count > 0 ? BlockSurgery.Compact(model, deadBlocks) : model;
        return ColumnSurgery.Compact(m);
    }

    private static bool IsZero(ReadOnlySpan<float> s)
    {
        foreach (var v in s) if (v != 0) return false;
        return true;
    }
}
