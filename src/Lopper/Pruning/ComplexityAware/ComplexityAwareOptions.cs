using System.Text.Json.Nodes;
using Lopper.Methods;

namespace Lopper.Pruning.ComplexityAware;

/// <summary>
/// Settings of complexity-aware gate training. The three user knobs are <see cref="Strength"/>,
/// <see cref="FlopsVsParams"/> and <see cref="LayersVsUnits"/>; the rest are the practical defaults of the
/// spec (sections 4.4 and 5.2), exposed for experiments.
/// </summary>
public record ComplexityAwareOptions
{
    /// <summary>gamma: price of the whole dense network in units of mean cross-entropy (0 = no pruning pressure).</summary>
    [Option("price of the whole dense network in units of mean cross-entropy (0 = no pruning pressure)")]
    public double Strength { get; init; } = 1.0;
    /// <summary>
    /// A budget instead of a price: the fraction of the dense MACs to keep. The strength then becomes the starting
    /// price and is steered at every step by how far the expected MACs sit above or below a path that reaches the
    /// target at 80% of the gating phase (exclusive with <see cref="TargetParams"/>).
    /// </summary>
    [Option("fraction of MACs to keep: steers the strength during gating (the strength is then the starting price)")]
    public double? TargetMacs { get; init; }
    /// <summary>As <see cref="TargetMacs"/> for the fraction of parameters kept.</summary>
    [Option("fraction of parameters to keep: steers the strength during gating")]
    public double? TargetParams { get; init; }
    /// <summary>
    /// With a target, how far below it (a fraction of the whole) the fold may land by deleting one more residual
    /// block; a block that would take it further stays and unit gates go instead. A ResNet-20 block is about 11.6%
    /// of the MACs: without this a 50% target deleted a fifth block and kept 41.8%.
    /// </summary>
    [Option("with a target, how far below it deleting one more block may take the fold before units go instead")]
    public double BudgetTolerance { get; init; } = Budget.DefaultTolerance;
    /// <summary>alpha in [0, 1]: weight of expected MACs against expected parameters in the complexity term.</summary>
    [Option("weight of MACs against parameters in the complexity term, 0..1")]
    public double FlopsVsParams { get; init; } = 0.5;
    /// <summary>beta in [0, 1]: above 0.5 favours removing whole residual blocks, below 0.5 thinning units.</summary>
    [Option("above 0.5 removes whole blocks more readily, below thins units, 0..1")]
    public double LayersVsUnits { get; init; } = 0.5;
    /// <summary>
    /// Gate learning rate as a multiple of the weight learning rate. The spec's default is 1; with it, a gate
    /// whose price is a few thousandths of the network needs thousands of steps to reach 0, far more than a
    /// short run has, so the default is larger (chosen on LeNet-5 and ResNet-20, Fashion-MNIST; see README).
    /// </summary>
    [Option("gate learning rate as a multiple of the weight learning rate")]
    public double GateLr { get; init; } = 10.0;
    /// <summary>Steps between pruning checks (T_check).</summary>
    [Option("steps between pruning checks")]
    public int CheckEvery { get; init; } = 25;
    /// <summary>Consecutive checks a gate must sit at theta = 0 before its structure is deleted (K).</summary>
    [Option("checks a gate must sit at 0 before its structure is deleted")]
    public int ZeroChecks { get; init; } = 3;
    /// <summary>
    /// Epochs (may be fractional) of warm-up (E_warm): the gates stay at theta = 1 and nothing is deleted. The
    /// spec only delays deletion; holding theta too keeps the first, noisy gradients from pulling it down
    /// before the weights mean anything, which matters most in runs of one to three epochs.
    /// </summary>
    [Option("epochs before gates may move or structures go", Name = "gate-warmup")]
    public double WarmupEpochs { get; init; } = 0.25;
    /// <summary>Smoothing of the per-gate running mean of the total gate gradient (condition 3 of spec 5.2).</summary>
    public double GradMeanDecay { get; init; } = 0.9;
    /// <summary>
    /// Final epochs trained without gates (spec section 7's optional fine-tuning with theta frozen): the gates
    /// are folded away that many epochs before the end, so the compact network finishes its training free of
    /// gate sampling noise (on LeNet-5, 3 epochs, strength 0.3: 87.3% instead of 86.7% at about a third of the
    /// MACs). 0 folds after the last epoch; a one-epoch run always folds after its epoch.
    /// </summary>
    [Option("last N epochs trained without gates")]
    public int SettleEpochs { get; init; } = 1;
    /// <summary>Gate residual blocks with a projection shortcut too (spec section 6: removable, the projection stays).</summary>
    [Option("keep residual blocks with a projection shortcut ungated", Name = "no-gate-downsampling", Negated = true)]
    public bool GateDownsampling { get; init; } = true;

    /// <summary>Checks the settings and returns them; errors name the property at fault.</summary>
    public virtual ComplexityAwareOptions Validate()
    {
        if (!(Strength >= 0 && double.IsFinite(Strength))) throw LopperInputException.ForOptions<ComplexityAwareOptions>($"Strength must be a finite number >= 0, got {Strength}", nameof(Strength));
        if (!(FlopsVsParams >= 0 && FlopsVsParams <= 1)) throw LopperInputException.ForOptions<ComplexityAwareOptions>($"FlopsVsParams must be in [0, 1], got {FlopsVsParams}", nameof(FlopsVsParams));
        if (!(LayersVsUnits >= 0 && LayersVsUnits <= 1)) throw LopperInputException.ForOptions<ComplexityAwareOptions>($"LayersVsUnits must be in [0, 1], got {LayersVsUnits}", nameof(LayersVsUnits));
        if (!(GateLr > 0 && double.IsFinite(GateLr))) throw LopperInputException.ForOptions<ComplexityAwareOptions>($"GateLr must be above 0, got {GateLr}", nameof(GateLr));
        if (CheckEvery < 1) throw LopperInputException.ForOptions<ComplexityAwareOptions>($"CheckEvery must be at least 1, got {CheckEvery}", nameof(CheckEvery));
        if (ZeroChecks < 1) throw LopperInputException.ForOptions<ComplexityAwareOptions>($"ZeroChecks must be at least 1, got {ZeroChecks}", nameof(ZeroChecks));
        if (!(WarmupEpochs >= 0 && double.IsFinite(WarmupEpochs))) throw LopperInputException.ForOptions<ComplexityAwareOptions>($"WarmupEpochs must be >= 0, got {WarmupEpochs}", nameof(WarmupEpochs));
        if (SettleEpochs < 0) throw LopperInputException.ForOptions<ComplexityAwareOptions>($"SettleEpochs must be at least 0, got {SettleEpochs}", nameof(SettleEpochs));
        if (TargetMacs is not null && TargetParams is not null)
            throw LopperInputException.ForOptions<ComplexityAwareOptions>("give at most one of TargetMacs and TargetParams", nameof(TargetMacs), nameof(TargetParams));
        if ((TargetMacs ?? TargetParams) is double f && !(f > 0 && f <= 1))
            throw LopperInputException.ForOptions<ComplexityAwareOptions>($"{(TargetMacs is null ? nameof(TargetParams) : nameof(TargetMacs))} must be in (0, 1], got {f}", nameof(TargetMacs), nameof(TargetParams));
        if ((TargetMacs ?? TargetParams) is not null && !(Strength > 0))
            throw LopperInputException.ForOptions<ComplexityAwareOptions>($"Strength must be above 0 with a target (it is the starting price), got {Strength}", nameof(Strength));
        if (!(BudgetTolerance >= 0 && BudgetTolerance < 1)) throw LopperInputException.ForOptions<ComplexityAwareOptions>($"BudgetTolerance must be in [0, 1), got {BudgetTolerance}", nameof(BudgetTolerance));
        if (!(GradMeanDecay >= 0 && GradMeanDecay < 1)) throw new LopperInputException($"grad-mean decay must be in [0, 1), got {GradMeanDecay}");
        return this;
    }

    /// <summary>Number of epochs after which the gates are folded away in a run of <paramref name="epochs"/> epochs.</summary>
    public int FoldAfter(int epochs) => Math.Max(1, epochs - SettleEpochs);

    /// <summary>Multiplier of the complexity gradient of block gates (2 beta) and unit gates (2 (1 - beta)); spec 3.4.</summary>
    public double Multiplier(bool blockGate) => blockGate ? 2 * LayersVsUnits : 2 * (1 - LayersVsUnits);

    /// <summary>As JSON (run.json, and what a resume reads back).</summary>
    public JsonObject ToJson() => new()
    {
        ["strength"] = Strength, ["flops_vs_params"] = FlopsVsParams, ["layers_vs_units"] = LayersVsUnits, ["gate_lr"] = GateLr,
        ["check_every"] = CheckEvery, ["zero_checks"] = ZeroChecks, ["warmup_epochs"] = WarmupEpochs,
        ["grad_mean_decay"] = GradMeanDecay, ["gate_downsampling"] = GateDownsampling, ["settle_epochs"] = SettleEpochs,
        ["target_macs"] = TargetMacs, ["target_params"] = TargetParams, ["budget_tolerance"] = BudgetTolerance,
    };

    /// <summary>From <see cref="ToJson"/>'s output; <paramref name="source"/> names the file in errors.</summary>
    public static ComplexityAwareOptions FromJson(JsonNode? node, string source)
    {
        if (node is not JsonObject o) throw new LopperInputException($"{source}: no complexity_aware settings");
        double D(string k) => o[k] is JsonValue v && v.TryGetValue(out double d) ? d : throw new LopperInputException($"{source}: complexity_aware.{k} missing");
        return new ComplexityAwareOptions
        {
            Strength = D("strength"), FlopsVsParams = D("flops_vs_params"), LayersVsUnits = D("layers_vs_units"), GateLr = D("gate_lr"),
            CheckEvery = (int)D("check_every"), ZeroChecks = (int)D("zero_checks"), WarmupEpochs = D("warmup_epochs"),
            GradMeanDecay = D("grad_mean_decay"), SettleEpochs = o["settle_epochs"] is null ? 0 : (int)D("settle_epochs"), GateDownsampling = o["gate_downsampling"] is JsonValue b && b.TryGetValue(out bool x) ? x : true,
            TargetMacs = o["target_macs"] is JsonValue tm && tm.TryGetValue(out double tmv) ? tmv : null,
            TargetParams = o["target_params"] is JsonValue tp && tp.TryGetValue(out double tpv) ? tpv : null,
            BudgetTolerance = o["budget_tolerance"] is JsonValue bt && bt.TryGetValue(out double btv) ? btv : Budget.DefaultTolerance,
        }.Validate();
    }
}
