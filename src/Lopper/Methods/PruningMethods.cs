using Lopper.Pruning.Baselines;
using Lopper.Pruning.ComplexityAware;
using Lopper.Pruning.Snacs;
using Lopper.Pruning.Spp;
using Lopper.Pruning.SrInit;

namespace Lopper.Methods;

/// <summary>Lopper's pruning methods: the one place a method is registered (its declaration lives beside its code).</summary>
public static class PruningMethods
{
    /// <summary>Every built-in method, in the order the help lists them.</summary>
    public static MethodRegistry Registry { get; } = new(
    [
        L1FilterPruner.Info,
        BnSlimmingPruner.Info,
        MagnitudePruner.Info,
        RandomChannelPruner.Info,
        SrInitPruner.Info,
        SppPruner.Info,
        ComplexityAwarePruner.Info,
        SnacsPruner.Info,
    ]);
}
