using Lopper.Methods;

namespace Lopper.Pruning;

/// <summary>The options of the channel baselines (L1, random) and magnitude pruning: how much to keep and how to spread the cuts.</summary>
public record BudgetOptions
{
    /// <summary>Fraction of MACs kept (exclusive with <see cref="TargetParams"/>).</summary>
    [Option("fraction of MACs kept, e.g. 0.5")]
    public double? TargetMacs { get; init; }

    /// <summary>Fraction of parameters kept (exclusive with <see cref="TargetMacs"/>).</summary>
    [Option("fraction of parameters kept")]
    public double? TargetParams { get; init; }

    /// <summary>"global" ranks all channels together (scores normalised per group); "layer" cuts the same fraction from every group.</summary>
    [Option("global ranks all channels together, layer cuts every group alike")]
    public BudgetScope Scope { get; init; } = BudgetScope.Global;

    /// <summary>No group loses more than this fraction of its channels.</summary>
    [Option("no group loses more than this fraction of its channels")]
    public double MaxLayerRatio { get; init; } = 0.9;

    /// <summary>Kept channel counts are rounded up to multiples of this (16 keeps pruned widths on the fast kernels).</summary>
    [Option("round kept channel counts up to multiples of N")]
    public int RoundTo { get; init; } = 1;

    private string ScopeName => Scope == BudgetScope.Layer ? "layer" : "global";

    /// <summary>The budget these options describe; exactly one target must be set.</summary>
    public Budget ToBudget()
    {
        if ((TargetMacs is null) == (TargetParams is null))
            throw LopperInputException.ForOptions<BudgetOptions>("give exactly one of TargetMacs or TargetParams (fraction kept, e.g. 0.5)", nameof(TargetMacs), nameof(TargetParams));
        return TargetMacs is double m
            ? new Budget(BudgetKind.Macs, m, ScopeName, MaxLayerRatio, RoundTo).Validate()
            : new Budget(BudgetKind.Params, TargetParams!.Value, ScopeName, MaxLayerRatio, RoundTo).Validate();
    }
}

/// <summary>How a channel budget spreads its cuts.</summary>
public enum BudgetScope
{
    /// <summary>Rank all channels together (scores normalised per group).</summary>
    Global,
    /// <summary>Remove the same fraction from every group.</summary>
    Layer,
}
