namespace Lopper.Pruning;

/// <summary>What a budget counts.</summary>
public enum BudgetKind
{
    /// <summary>Multiply-accumulates of one image.</summary>
    Macs,
    /// <summary>Trainable parameters.</summary>
    Params,
}

/// <summary>
/// How much of the model to keep and how to spread the cuts: <see cref="Fraction"/> of MACs or
/// parameters kept; "global" ranks all channels together (scores normalised per group), "layer" removes
/// the same fraction from every group; no group loses more than <see cref="MaxLayerRatio"/>; kept counts
/// are rounded up to multiples of <see cref="RoundTo"/>.
/// </summary>
public sealed record Budget(BudgetKind Kind, double Fraction, string Scope = "global", double MaxLayerRatio = 0.9, int RoundTo = 1)
{
    /// <summary>
    /// How far from a budget a method whose steps are coarse (whole residual blocks) may land by default: two points of
    /// the whole, the tolerance the method comparisons allow.
    /// </summary>
    public const double DefaultTolerance = 0.02;

    /// <summary>Checks the values; errors name the <see cref="BudgetOptions"/> property at fault.</summary>
    public Budget Validate()
    {
        string target = Kind == BudgetKind.Macs ? nameof(BudgetOptions.TargetMacs) : nameof(BudgetOptions.TargetParams);
        if (!(Fraction > 0 && Fraction <= 1)) throw LopperInputException.ForOptions<BudgetOptions>($"{target} must be in (0, 1], got {Fraction}", target);
        if (Scope is not ("global" or "layer")) throw LopperInputException.ForOptions<BudgetOptions>($"Scope must be global or layer, got '{Scope}'", nameof(BudgetOptions.Scope));
        if (!(MaxLayerRatio > 0 && MaxLayerRatio < 1)) throw LopperInputException.ForOptions<BudgetOptions>($"MaxLayerRatio must be in (0, 1), got {MaxLayerRatio}", nameof(BudgetOptions.MaxLayerRatio));
        if (RoundTo < 1) throw LopperInputException.ForOptions<BudgetOptions>($"RoundTo must be at least 1, got {RoundTo}", nameof(BudgetOptions.RoundTo));
        return this;
    }
}
