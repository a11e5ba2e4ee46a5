using Lopper.Methods;

namespace Lopper.Pruning.SrInit;

/// <summary>How blocks are ranked: lower scores are removed first.</summary>
public enum BlockCriterion
{
    /// <summary>Accuracy drop when the block is re-initialised from a seeded fresh model (SR-init).</summary>
    [OptionWord("srinit")]
    SrInit,
    /// <summary>A seeded random score per block: the sanity floor.</summary>
    Random,
    /// <summary>Mean absolute value of the branch's convolution and linear weights.</summary>
    L1,
}

/// <summary>Settings of <see cref="SrInitPruner"/>. Exactly one of <see cref="Tau"/>, <see cref="Blocks"/> and <see cref="TargetParams"/> is set.</summary>
public sealed record SrInitOptions
{
    /// <summary>Remove every candidate whose score is at or below this (SR-init: accuracy drop as a fraction).</summary>
    [Option("remove blocks whose accuracy drop is at most this (a fraction)")]
    public double? Tau { get; init; }
    /// <summary>Remove exactly this many candidates, lowest scores first.</summary>
    [Option("remove exactly this many blocks, lowest scores first")]
    public int? Blocks { get; init; }
    /// <summary>Remove candidates, lowest scores first, until at most this fraction of the parameters is kept.</summary>
    [Option("remove blocks until at most this fraction of the parameters is kept")]
    public double? TargetParams { get; init; }
    /// <summary>The ranking.</summary>
    [Option("how blocks are ranked")]
    public BlockCriterion Criterion { get; init; } = BlockCriterion.SrInit;
    /// <summary>Score on the first this-many evaluation images; 0 uses all of them (as the paper does).</summary>
    [Option("score on the first N evaluation images (0 = all)")]
    public int EvalSamples { get; init; }
    /// <summary>Seed of the fresh model the re-initialised values come from (the official code uses 1).</summary>
    [Option("seed of the fresh model the re-initialised values come from")]
    public ulong DonorSeed { get; init; } = 1;
    /// <summary>Let down-sampling blocks be removed (their projection shortcut stays); off as in the official code.</summary>
    [Option("let down-sampling blocks go too (their projection shortcut stays)")]
    public bool IncludeDownsampling { get; init; }

    /// <summary>Checks the settings and returns them.</summary>
    /// <exception cref="LopperInputException">No rule or more than one, or a value out of range.</exception>
    public SrInitOptions Validate()
    {
        int rules = (Tau is null ? 0 : 1) + (Blocks is null ? 0 : 1) + (TargetParams is null ? 0 : 1);
        if (rules != 1) throw LopperInputException.ForOptions<SrInitOptions>("give exactly one of Tau T, Blocks K or TargetParams F", nameof(TargetParams), nameof(Blocks), nameof(Tau));
        if (Tau is double t && !double.IsFinite(t)) throw LopperInputException.ForOptions<SrInitOptions>($"Tau must be a finite number, got {t}", nameof(Tau));
        // A threshold in drop units means nothing for the other rankings' scores.
        if (Tau is not null && Criterion != BlockCriterion.SrInit) throw LopperInputException.ForOptions<SrInitOptions>("Tau applies to Criterion srinit only; use Blocks K or TargetParams F", nameof(Tau), nameof(Criterion), nameof(Blocks), nameof(TargetParams));
        if (Blocks is < 0) throw LopperInputException.ForOptions<SrInitOptions>($"Blocks must be at least 0, got {Blocks}", nameof(Blocks));
        if (TargetParams is double f && !(f > 0 && f <= 1)) throw LopperInputException.ForOptions<SrInitOptions>($"TargetParams must be in (0, 1], got {f}", nameof(TargetParams));
        if (EvalSamples < 0) throw LopperInputException.ForOptions<SrInitOptions>($"EvalSamples must be at least 0, got {EvalSamples}", nameof(EvalSamples));
        return this;
    }
}
