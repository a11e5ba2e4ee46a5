using Lopper.Data;
using Lopper.Graph;
using Lopper.Methods;
using Lopper.Pruning.ComplexityAware;
using Lopper.Training;

namespace Lopper.Runs;

/// <summary>A training run for <see cref="TrainPipeline.Run"/>: a zoo model or a starting model, the data, the config and any training-time method.</summary>
public sealed record TrainRequest
{
    /// <summary>Zoo model to build and initialise from <see cref="TrainConfig.Seed"/> (exclusive with <see cref="Start"/>).</summary>
    [Option("zoo model", Name = "model")]
    public string? ModelName { get; init; }

    /// <summary>A model to continue from (transfer learning, for example a <see cref="RunFolder"/>'s model with <see cref="Transfer.ResetHead"/>).</summary>
    [Option("start from this model", Name = "from")]
    public Model? Start { get; init; }

    /// <summary>The folder <see cref="Start"/> came from, recorded as "transfer_from"; its preprocessing record's normalisation is reused.</summary>
    public RunFolder? StartFolder { get; init; }

    /// <summary>The data.</summary>
    public DataSpec Data { get; init; } = new();

    /// <summary>The splits of <see cref="Data"/> when the caller has read them already (transfer learning reads them to size the head); null: read here.</summary>
    public DataSplits? Splits { get; init; }

    /// <summary>Optimizer, schedule, epochs, seed, augmentation (gRDA is <c>Optimizer = "grda"</c>).</summary>
    public TrainConfig Config { get; init; } = new();

    /// <summary>Complexity-aware gate training (Bernoulli gates pruned while training), or null.</summary>
    [Option("complexity-aware gate training", Name = "method complexity-aware")]
    public ComplexityAwareOptions? Gates { get; init; }

    /// <summary>Per-channel normalisation in 0..1 pixel units; null: the start folder's record, else the training split's statistics.</summary>
    public (float[] Mean, float[] Std)? Normalisation { get; init; }

    /// <summary>No updates for nodes up to and including this one (transfer learning), or null.</summary>
    public string? FreezeUntil { get; init; }

    /// <summary>Folder for checkpoints (every epoch, resumable with <see cref="TrainPipeline.Resume"/>) and the final model; null: in memory only.</summary>
    public string? OutDir { get; init; }

    /// <summary>How the run was asked for, recorded as "command".</summary>
    public string? Command { get; init; }

    /// <summary>Checks the request; errors name the property.</summary>
    public TrainRequest Validate()
    {
        if ((ModelName is null) == (Start is null)) throw LopperInputException.ForOptions<TrainRequest>("give exactly one of ModelName or Start", nameof(ModelName), nameof(Start));
        if (Gates is not null && Config.Optimizer == "grda") throw LopperInputException.ForOptions<TrainRequest>("Gates (complexity-aware training) cannot be combined with the grda optimizer", nameof(Gates));
        if (Gates is not null && FreezeUntil is not null) throw LopperInputException.ForOptions<TrainRequest>("FreezeUntil cannot be combined with Gates (complexity-aware training)", nameof(FreezeUntil), nameof(Gates));
        Gates?.Validate();
        return this;
    }
}
