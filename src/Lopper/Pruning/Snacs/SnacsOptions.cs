using Lopper.Methods;

namespace Lopper.Pruning.Snacs;

/// <summary>Settings of SNACS pruning (defaults follow the released code where it has one; spec §9).</summary>
public sealed record SnacsOptions
{
    /// <summary>Probe images per class for the scores (released default 250).</summary>
    [Option("probe images per class for the scores")]
    public int ProbePerClass { get; init; } = 250;
    /// <summary>Probe images per class for the operating-constraint SVM (the first ones of the probe set).</summary>
    [Option("probe images per class for the upper-limit SVM", Name = "ul-probe-per-class")]
    public int UlProbePerClass { get; init; } = 50;
    /// <summary>Groups per layer (contiguous); a classifier child is always scored per output.</summary>
    [Option("groups per layer")]
    public int Groups { get; init; } = 16;
    /// <summary>
    /// Fewest filters per child group: a layer of n filters is scored and cut in at most n / this many groups. The
    /// filters of a child group read the same parent groups, and the inference kernels run filters with the same
    /// inputs as one register block of up to 8 that multiplies no zero slice; with groups of one filter (ResNet-20's
    /// 16-filter stage under 16 groups) nearly every filter reads its own set and a block computes the union of its
    /// filters' sets. 1: as many groups as <see cref="Groups"/> gives.
    /// </summary>
    [Option("fewest filters per child group (blocks of filters that read the same inputs run faster)")]
    public int MinGroupFilters { get; init; } = 1;
    /// <summary>Fraction of parameters to keep; the global quantile is found by bisection. Exclusive with <see cref="TargetMacs"/> and <see cref="Quantile"/>.</summary>
    [Option("fraction of parameters kept (bisection on the global quantile)")]
    public double? TargetParams { get; init; }
    /// <summary>
    /// Fraction of MACs to keep, counted as <see cref="TargetParams"/> counts parameters (cut connections and the
    /// filters they orphan are gone); the global quantile is found by bisection. For comparing SNACS with filter
    /// methods at the same MACs.
    /// </summary>
    [Option("fraction of MACs kept (bisection on the global quantile)")]
    public double? TargetMacs { get; init; }
    /// <summary>Global quantile q of all ACMI values (cut at and below it).</summary>
    [Option("global quantile q of the scores cut")]
    public double? Quantile { get; init; }
    /// <summary>
    /// Which child groups sensitivity protects. Low (the released code's reading) by default: on LeNet-5 / Fashion-MNIST
    /// (88.31 %; protect 0.25, 16 groups, 100 probe images per class, one fine-tuning epoch at 40 % of the parameters) it
    /// ended at 86.33 % against High's 85.38 % (with a fixed γ = 0.4 estimator: 85.51 vs 84.10 at 40 %, 85.98 vs 85.16 at
    /// 50 %, None 82.25 at 40 %). High was better right after pruning every time (39.0 vs 33.3 %).
    /// </summary>
    [Option("which child groups sensitivity protects")]
    public SensitivityMode Sensitivity { get; init; } = SensitivityMode.Low;
    /// <summary>Fraction of child groups per pair that sensitivity protects (not recoverable from the released code; 0.25 is the value the default reading was chosen with).</summary>
    [Option("fraction of child groups per pair sensitivity protects", Name = "protect")]
    public double ProtectFraction { get; init; } = 0.25;
    /// <summary>Estimator: "hash" (SNACS) or "mint" (MINT's O(N²) estimator).</summary>
    [Option("CMI estimator: hash (SNACS) or mint")]
    public string Estimator { get; init; } = "hash";
    /// <summary>Scale the CMI by the normalised weights (ACMI, φ = weight); false scores by plain CMI (φ = 1).</summary>
    [Option("scale the CMI by normalised weights (ACMI) or not", Name = "phi", Words = "weight|none")]
    public bool WeightScaled { get; init; } = true;
    /// <summary>Range used to normalise weights.</summary>
    [Option("range the weights are normalised over")]
    public WeightRange WeightRange { get; init; } = WeightRange.ConvLinear;
    /// <summary>Step of the UL grid (levels 0.01, 0.01+step, … ≤ 0.97).</summary>
    [Option("step of the upper-limit grid", Name = "ul-step")]
    public double UlStep { get; init; } = 0.02;
    /// <summary>Allowed SVM accuracy drop as a fraction of its range.</summary>
    [Option("allowed SVM accuracy drop, a fraction of its range")]
    public double Beta { get; init; } = 0.7;
    /// <summary>Skip the operating constraints (UL = 1 for every pair).</summary>
    [Option("skip the operating constraints (upper limit 1 for every pair)")]
    public bool NoUpperLimits { get; init; }

    /// <summary>Let connections into the classifier be cut too (off: its few parameters stay, and the cut goes where it saves more).</summary>
    [Option("let connections into the classifier be cut too")]
    public bool IncludeClassifier { get; init; }

    /// <summary>
    /// Replace every connection score by a seeded uniform random number (before the weight scaling when
    /// <see cref="WeightScaled"/>), keeping probes, upper limits, protection and the budget: the control that shows
    /// whether the estimator's scores beat chance through the very same pipeline.
    /// </summary>
    [Option("control: seeded random scores in place of the CMI estimate (same limits, protection and budget)")]
    public bool RandomScores { get; init; }

    /// <summary>Checks the settings; throws <see cref="LopperInputException"/> naming the flag.</summary>
    public SnacsOptions Validate()
    {
        if ((TargetParams is null ? 0 : 1) + (TargetMacs is null ? 0 : 1) + (Quantile is null ? 0 : 1) != 1)
            throw LopperInputException.ForOptions<SnacsOptions>("give exactly one of TargetParams F, TargetMacs F or Quantile q", nameof(TargetParams), nameof(TargetMacs), nameof(Quantile));
        if (TargetParams is double f && !(f > 0 && f <= 1)) throw LopperInputException.ForOptions<SnacsOptions>($"TargetParams must be in (0, 1], got {f}", nameof(TargetParams));
        if (TargetMacs is double fm && !(fm > 0 && fm <= 1)) throw LopperInputException.ForOptions<SnacsOptions>($"TargetMacs must be in (0, 1], got {fm}", nameof(TargetMacs));
        if (Quantile is double q && !(q >= 0 && q <= 1)) throw LopperInputException.ForOptions<SnacsOptions>($"Quantile must be in [0, 1], got {q}", nameof(Quantile));
        if (ProbePerClass < 2) throw LopperInputException.ForOptions<SnacsOptions>($"ProbePerClass must be at least 2, got {ProbePerClass}", nameof(ProbePerClass));
        if (UlProbePerClass < 1) throw LopperInputException.ForOptions<SnacsOptions>($"UlProbePerClass must be at least 1, got {UlProbePerClass}", nameof(UlProbePerClass));
        if (Groups < 1) throw LopperInputException.ForOptions<SnacsOptions>($"Groups must be at least 1, got {Groups}", nameof(Groups));
        if (MinGroupFilters < 1) throw LopperInputException.ForOptions<SnacsOptions>($"MinGroupFilters must be at least 1, got {MinGroupFilters}", nameof(MinGroupFilters));
        if (!(ProtectFraction >= 0 && ProtectFraction <= 1)) throw LopperInputException.ForOptions<SnacsOptions>($"ProtectFraction must be in [0, 1], got {ProtectFraction}", nameof(ProtectFraction));
        if (Estimator is not ("hash" or "mint")) throw LopperInputException.ForOptions<SnacsOptions>($"Estimator must be hash or mint, got '{Estimator}'", nameof(Estimator));
        if (!(UlStep > 0 && UlStep <= 0.96)) throw LopperInputException.ForOptions<SnacsOptions>($"UlStep must be in (0, 0.96], got {UlStep}", nameof(UlStep));
        if (!(Beta >= 0 && Beta <= 1)) throw LopperInputException.ForOptions<SnacsOptions>($"Beta must be in [0, 1], got {Beta}", nameof(Beta));
        return this;
    }
}
