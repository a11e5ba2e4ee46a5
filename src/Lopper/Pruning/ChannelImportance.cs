using Lopper.Graph;
using Lopper.Structure;
using Lopper.Tensors;

namespace Lopper.Pruning;

/// <summary>Per-channel importance scores for every prunable group.</summary>
public static class ChannelImportance
{
    /// <summary>
    /// L1 norm of each channel's filters (Li et al. 2017), summed over all producers of a coupled group.
    /// </summary>
    public static Dictionary<int, double[]> L1(Model model, ChannelGroups groups)
    {
        var r = new Dictionary<int, double[]>();
        foreach (var g in groups.Prunable)
        {
            var s = new double[g.Channels];
            foreach (var slice in g.Slices)
            {
                if (slice.Consumes || !g.Producers.Contains(slice.Node) || !slice.Parameter.EndsWith(".weight", StringComparison.Ordinal)) continue;
                var w = model.Find(slice.Parameter)!.Value;
                for (int c = 0; c < g.Channels; c++) s[c] += AxisSlicing.L1(w, slice, c);
            }
            r[g.Id] = s;
        }
        return r;
    }

    /// <summary>|gamma| of the batch-norms in each group (network slimming, Liu et al. 2017), summed when coupled.</summary>
    public static Dictionary<int, double[]> BatchNormScale(Model model, ChannelGroups groups)
    {
        var r = new Dictionary<int, double[]>();
        foreach (var g in groups.Prunable)
        {
            var s = new double[g.Channels];
            bool any = false;
            foreach (var slice in g.Slices)
            {
                if (slice.Consumes || model.Graph.Nodes[slice.Node].Op.Type != "batchnorm2d" || !slice.Parameter.EndsWith(".weight", StringComparison.Ordinal)) continue;
                for (int c = 0; c < g.Channels; c++) s[c] += AxisSlicing.L1(model.Find(slice.Parameter)!.Value, slice, c);
                any = true;
            }
            if (any) r[g.Id] = s;
        }
        return r;
    }

    /// <summary>Uniform random scores (the sanity floor every method must beat).</summary>
    public static Dictionary<int, double[]> Random(ChannelGroups groups, ulong seed)
    {
        var rng = new Rng(seed);
        var r = new Dictionary<int, double[]>();
        foreach (var g in groups.Prunable)
        {
            var s = new double[g.Channels];
            for (int c = 0; c < s.Length; c++) s[c] = rng.NextDouble() + 1e-9;
            r[g.Id] = s;
        }
        return r;
    }
}
