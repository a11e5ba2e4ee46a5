using Lopper.Methods;

namespace Lopper.Pruning.Spp;

/// <summary>Settings of structured probabilistic pruning (SPP); defaults follow the SPP spec (docs/methods/spp.md).</summary>
public sealed record SppOptions
{
    /// <summary>
    /// Whole-network speedup over convolution MACs, S = Σ F / Σ F·(1 − r); sets one uniform column ratio
    /// for every pruned convolution and stops all layers once it is reached. Exclusive with <see cref="Ratios"/>.
    /// </summary>
    [Option("whole-network speed-up over convolution MACs (one uniform column ratio)")]
    public double? TargetSpeedup { get; init; }

    /// <summary>
    /// Share of the whole model's MACs to keep, counted after compaction (columns removed, and the filters whose
    /// outputs lose every reader with them). Sets one uniform column ratio as <see cref="TargetSpeedup"/> would for
    /// that share, and stops all layers as soon as the compacted model meets it: whole input channels vanish when all
    /// their taps go, which takes the filters producing them too, so a column ratio alone overshoots (a speedup of
    /// 3.33 on ResNet-20 kept 26.2% of the MACs, not 30%). Exclusive with <see cref="TargetSpeedup"/> and <see cref="Ratios"/>.
    /// </summary>
    [Option("share of the whole model's MACs to keep after compaction (one uniform column ratio; layers stop when it is met)")]
    public double? TargetMacs { get; init; }

    /// <summary>Explicit column ratios per convolution node name; convolutions not named are not pruned.</summary>
    [Option("column ratio per convolution, e.g. conv1=0.5,conv2=0.3")]
    public IReadOnlyDictionary<string, double>? Ratios { get; init; }

    /// <summary>
    /// Iterations between probability updates (t). Null: derived from the planned iterations (pruning epochs ×
    /// batches per epoch) so that, with ranks held fixed, every layer's probabilities reach 1 by
    /// <see cref="FinishBy"/> of the phase. The paper's 180 (Algorithm 1 as transcribed by a third party) assumes
    /// tens of thousands of iterations: a layer needs roughly 80–220 updates, so short runs never finish by
    /// probability and every layer ends up completed by L1 rank.
    /// </summary>
    [Option("iterations between probability updates (t); default: derived from the planned iterations and the target")]
    public int? Interval { get; init; }

    /// <summary>Fraction of the pruning phase by which a derived <see cref="Interval"/> lets every layer finish (the rest is margin for rank changes).</summary>
    [Option("fraction of the pruning epochs by which the derived interval lets every layer finish")]
    public double FinishBy { get; init; } = 0.5;

    /// <summary>
    /// Prune the stem (convolutions fed by the image with no convolution before them) under <see cref="TargetSpeedup"/>
    /// or <see cref="TargetMacs"/> too. Off by default: its few input channels carry all the information, and a uniform ratio took 7 of the 9 taps of
    /// a one-channel stem.
    /// </summary>
    [Option("also prune the stem (the first convolution) under --target-speedup")]
    public bool IncludeStem { get; init; }

    /// <summary>
    /// Under <see cref="TargetSpeedup"/>, convolutions with fewer im2col columns (in_channels·k·k) than this stay
    /// whole; the uniform ratio is recomputed over the rest so the speedup target still holds.
    /// </summary>
    [Option("under --target-speedup, convolutions with fewer columns (in_channels*k*k) stay whole")]
    public int MinColumns { get; init; } = 32;

    /// <summary>Largest increment A, given to the weakest surviving column.</summary>
    [Option("largest probability increment", Name = "A")]
    public double A { get; init; } = 0.05;

    /// <summary>Shape u ∈ (0, 1) of the increment; the centre of symmetry sits at rank M·ln(1/u)/ln(2/u).</summary>
    [Option("shape of the increment, in (0, 1)", Name = "u")]
    public double U { get; init; } = 0.25;

    /// <summary>Most pruning epochs; layers still short of their target afterwards are completed by rank.</summary>
    [Option("most pruning epochs; layers short of their target are then completed by rank")]
    public int PruneEpochs { get; init; } = 10;

    /// <summary>Epochs of masked retraining inside the method, before compaction (0: leave it to fine-tuning).</summary>
    [Option("masked retraining epochs inside the method (fine-tuning retrains too)")]
    public int RetrainEpochs { get; init; }

    /// <summary>Scale survivors by their keep probability 1 − p when a layer finishes (the Nov 2017 code); off by default.</summary>
    [Option("scale kept columns by 1 - p when a layer stops")]
    public bool ScaleSurvivors { get; init; }

    /// <summary>Checks the settings; throws <see cref="LopperInputException"/> on a bad one.</summary>
    public SppOptions Validate()
    {
        if ((TargetSpeedup is null ? 0 : 1) + (TargetMacs is null ? 0 : 1) + (Ratios is null ? 0 : 1) != 1)
            throw LopperInputException.ForOptions<SppOptions>("spp: give exactly one of TargetMacs F, TargetSpeedup S or Ratios name=r,...", nameof(TargetMacs), nameof(TargetSpeedup), nameof(Ratios));
        if (TargetMacs is double m && !(m > 0 && m < 1))
            throw LopperInputException.ForOptions<SppOptions>($"TargetMacs must be in (0, 1), got {m}", nameof(TargetMacs));
        if (TargetSpeedup is double s && !(s > 1 && double.IsFinite(s)))
            throw LopperInputException.ForOptions<SppOptions>($"TargetSpeedup must be above 1, got {s}", nameof(TargetSpeedup));
        if (Ratios is not null)
            foreach (var (name, r) in Ratios)
                if (!(r >= 0 && r < 1)) throw LopperInputException.ForOptions<SppOptions>($"Ratios: ratio of {name} must be in [0, 1), got {r}", nameof(Ratios));
        if (Interval is < 1) throw LopperInputException.ForOptions<SppOptions>($"Interval must be at least 1, got {Interval}", nameof(Interval));
        if (!(FinishBy > 0 && FinishBy <= 1)) throw LopperInputException.ForOptions<SppOptions>($"FinishBy must be in (0, 1], got {FinishBy}", nameof(FinishBy));
        if (MinColumns < 0) throw LopperInputException.ForOptions<SppOptions>($"MinColumns must be 0 or more, got {MinColumns}", nameof(MinColumns));
        if (!(A > 0 && A <= 1)) throw LopperInputException.ForOptions<SppOptions>($"A must be in (0, 1], got {A}", nameof(A));
        if (!(U > 0 && U < 1)) throw LopperInputException.ForOptions<SppOptions>($"U must be in (0, 1), got {U}", nameof(U));
        if (PruneEpochs < 1) throw LopperInputException.ForOptions<SppOptions>($"PruneEpochs must be at least 1, got {PruneEpochs}", nameof(PruneEpochs));
        if (RetrainEpochs < 0) throw LopperInputException.ForOptions<SppOptions>($"RetrainEpochs must be 0 or more, got {RetrainEpochs}", nameof(RetrainEpochs));
        return this;
    }
}
