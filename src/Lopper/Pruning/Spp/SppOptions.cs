namespace Lopper.Pruning.Spp;

/// <summary>Settings of structured probabilistic pruning (SPP); defaults follow the SPP spec (shared/specs/spp.md).</summary>
public sealed record SppOptions
{
    /// <summary>
    /// Whole-network speedup over convolution MACs, S = Σ F / Σ F·(1 − r); sets one uniform column ratio
    /// for every pruned convolution and stops all layers once it is reached. Exclusive with <see cref="Ratios"/>.
    /// </summary>
    public double? TargetSpeedup { get; init; }

    /// <summary>Explicit column ratios per convolution node name; convolutions not named are not pruned.</summary>
    public IReadOnlyDictionary<string, double>? Ratios { get; init; }

    /// <summary>Iterations between probability updates (t); 180 is the paper's Algorithm 1 as transcribed by a third party.</summary>
    public int Interval { get; init; } = 180;

    /// <summary>Largest increment A, given to the weakest surviving column.</summary>
    public double A { get; init; } = 0.05;

    /// <summary>Shape u ∈ (0, 1) of the increment; the centre of symmetry sits at rank M·ln(1/u)/ln(2/u).</summary>
    public double U { get; init; } = 0.25;

    /// <summary>Most pruning epochs; layers still short of their target afterwards are completed by rank.</summary>
    public int PruneEpochs { get; init; } = 10;

    /// <summary>Epochs of masked retraining inside the method, before compaction (0: leave it to fine-tuning).</summary>
    public int RetrainEpochs { get; init; }

    /// <summary>Scale survivors by their keep probability 1 − p when a layer finishes (the Nov 2017 code); off by default.</summary>
    public bool ScaleSurvivors { get; init; }

    /// <summary>Checks the settings; throws <see cref="LopperInputException"/> on a bad one.</summary>
    public SppOptions Validate()
    {
        if ((TargetSpeedup is null) == (Ratios is null))
            throw new LopperInputException("spp: give exactly one of --target-speedup S or --ratios name=r,...");
        if (TargetSpeedup is double s && !(s > 1 && double.IsFinite(s)))
            throw new LopperInputException($"--target-speedup must be above 1, got {s}");
        if (Ratios is not null)
            foreach (var (name, r) in Ratios)
                if (!(r >= 0 && r < 1)) throw new LopperInputException($"--ratios: ratio of {name} must be in [0, 1), got {r}");
        if (Interval < 1) throw new LopperInputException($"--interval must be at least 1, got {Interval}");
        if (!(A > 0 && A <= 1)) throw new LopperInputException($"--A must be in (0, 1], got {A}");
        if (!(U > 0 && U < 1)) throw new LopperInputException($"--u must be in (0, 1), got {U}");
        if (PruneEpochs < 1) throw new LopperInputException($"--prune-epochs must be at least 1, got {PruneEpochs}");
        if (RetrainEpochs < 0) throw new LopperInputException($"--retrain-epochs must be 0 or more, got {RetrainEpochs}");
        return this;
    }
}
