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

/// <summary>What spends the part of a budget that whole blocks cannot reach.</summary>
public enum WidthTopUp
{
    /// <summary>Whole blocks only: the kept share lands on a block boundary, which may be far under the target.</summary>
    None,
    /// <summary>
    /// Remove whole blocks up to the target (never more than <see cref="SrInitOptions.BudgetTolerance"/> under it), then
    /// thin the kept layers' filters by L1 norm (<see cref="Baselines.L1FilterPruner"/>) to the target.
    /// </summary>
    L1,
}

/// <summary>
/// Settings of <see cref="SrInitPruner"/>. Exactly one of <see cref="TargetMacs"/>, <see cref="TargetParams"/>,
/// <see cref="Tau"/> and <see cref="Blocks"/> is set.
/// </summary>
public sealed record SrInitOptions
{
    /// <summary>
    /// Remove candidates until at most this fraction of the MACs (plus <see cref="BudgetTolerance"/>) is kept, choosing
    /// blocks by score per MAC saved (SR-init: accuracy drop per MAC), then putting back removed blocks that still fit.
    /// </summary>
    [Option("remove blocks until at most this fraction of the MACs is kept (drop per MAC first)")]
    public double? TargetMacs { get; init; }
    /// <summary>
    /// How far above <see cref="TargetMacs"/> (or <see cref="TargetParams"/>) the kept share may land, as a fraction of
    /// the whole. Whole blocks are coarse (each removable block of a ResNet-20 is 11.6% of its MACs, so the kept shares
    /// within reach are 100%, 88.4%, ..., 30.1%, 18.5%): without a tolerance a 30% target took a seventh block and
    /// kept 18.5%.
    /// </summary>
    [Option("how far above the target the kept share may land (a fraction of the whole; whole blocks are coarse)")]
    public double BudgetTolerance { get; init; } = Budget.DefaultTolerance;

    /// <summary>
    /// With a budget, what spends the part whole blocks miss. A ResNet-20's blocks are 11.6% of its MACs each, so 50%
    /// is 53.4% (four blocks) or 41.8% (five) by blocks alone; with L1 (the default) four go and the kept layers'
    /// filters are thinned by L1 norm to 50%, where five blocks would cut 8 points more than asked.
    /// </summary>
    [Option("what spends the budget whole blocks miss: l1 thins the kept layers' filters to it, none removes whole blocks only")]
    public WidthTopUp TopUp { get; init; } = WidthTopUp.L1;

    /// <summary>As <see cref="TargetMacs"/> for parameters: score per parameter saved.</summary>
    [Option("remove blocks until at most this fraction of the parameters is kept (drop per parameter first)")]
    public double? TargetParams { get; init; }
    /// <summary>Remove every candidate whose score is at or below this (SR-init: accuracy drop as a fraction).</summary>
    [Option("remove blocks whose accuracy drop is at most this (a fraction)")]
    public double? Tau { get; init; }
    /// <summary>Remove exactly this many candidates, lowest scores first.</summary>
    [Option("remove exactly this many blocks, lowest scores first")]
    public int? Blocks { get; init; }
    /// <summary>The ranking.</summary>
    [Option("how blocks are ranked")]
    public BlockCriterion Criterion { get; init; } = BlockCriterion.SrInit;
    /// <summary>
    /// Training images per class in the probe the drops are measured on (seeded, class-balanced). The official
    /// code scores on the test set, which then also reports the result; a training probe keeps the test set unseen.
    /// </summary>
    [Option("training images per class in the probe the accuracy drops are measured on")]
    public int ProbePerClass { get; init; } = 100;
    /// <summary>
    /// Training batches batch-norm statistics are re-estimated on after each reset, before the probe is scored
    /// (0: keep the donor's reset statistics, as the official code does, which mostly measures the statistics' mismatch).
    /// </summary>
    [Option("training batches to re-estimate batch-norm statistics on after each reset (0 = none, as the official code)")]
    public int ResetBnBatches { get; init; } = 10;
    /// <summary>Seed of the first fresh model the re-initialised values come from (the official code uses 1).</summary>
    [Option("seed of the first fresh model the re-initialised values come from")]
    public ulong DonorSeed { get; init; } = 1;
    /// <summary>Donor models (seeds DonorSeed, DonorSeed+1, ...) whose drops are averaged (the official code uses one).</summary>
    [Option("number of donor seeds the drops are averaged over")]
    public int DonorSeeds { get; init; } = 3;
    /// <summary>Let down-sampling blocks be removed (their projection shortcut stays); off as in the official code.</summary>
    [Option("let down-sampling blocks go too (their projection shortcut stays)")]
    public bool IncludeDownsampling { get; init; }

    /// <summary>Checks the settings and returns them.</summary>
    /// <exception cref="LopperInputException">No rule or more than one, or a value out of range.</exception>
    public SrInitOptions Validate()
    {
        int rules = (Tau is null ? 0 : 1) + (Blocks is null ? 0 : 1) + (TargetParams is null ? 0 : 1) + (TargetMacs is null ? 0 : 1);
        if (rules != 1) throw LopperInputException.ForOptions<SrInitOptions>("give exactly one of TargetMacs F, TargetParams F, Tau T or Blocks K", nameof(TargetMacs), nameof(TargetParams), nameof(Tau), nameof(Blocks));
        if (Tau is double t && !double.IsFinite(t)) throw LopperInputException.ForOptions<SrInitOptions>($"Tau must be a finite number, got {t}", nameof(Tau));
        // A threshold in drop units means nothing for the other rankings' scores.
        if (Tau is not null && Criterion != BlockCriterion.SrInit) throw LopperInputException.ForOptions<SrInitOptions>("Tau applies to Criterion srinit only; use Blocks K, TargetMacs F or TargetParams F", nameof(Tau), nameof(Criterion), nameof(Blocks), nameof(TargetMacs), nameof(TargetParams));
        if (Blocks is < 0) throw LopperInputException.ForOptions<SrInitOptions>($"Blocks must be at least 0, got {Blocks}", nameof(Blocks));
        if (TargetParams is double f && !(f > 0 && f <= 1)) throw LopperInputException.ForOptions<SrInitOptions>($"TargetParams must be in (0, 1], got {f}", nameof(TargetParams));
        if (TargetMacs is double m && !(m > 0 && m <= 1)) throw LopperInputException.ForOptions<SrInitOptions>($"TargetMacs must be in (0, 1], got {m}", nameof(TargetMacs));
        if (!(BudgetTolerance >= 0 && BudgetTolerance < 1)) throw LopperInputException.ForOptions<SrInitOptions>($"BudgetTolerance must be in [0, 1), got {BudgetTolerance}", nameof(BudgetTolerance));
        if (ProbePerClass < 1) throw LopperInputException.ForOptions<SrInitOptions>($"ProbePerClass must be at least 1, got {ProbePerClass}", nameof(ProbePerClass));
        if (ResetBnBatches < 0) throw LopperInputException.ForOptions<SrInitOptions>($"ResetBnBatches must be 0 or more, got {ResetBnBatches}", nameof(ResetBnBatches));
        if (DonorSeeds < 1) throw LopperInputException.ForOptions<SrInitOptions>($"DonorSeeds must be at least 1, got {DonorSeeds}", nameof(DonorSeeds));
        return this;
    }
}
