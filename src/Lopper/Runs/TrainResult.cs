using System.Text.Json.Nodes;
using Lopper.Graph;

namespace Lopper.Runs;

/// <summary>What a training run produced: the final model and its figures.</summary>
public sealed record TrainResult
{
    /// <summary>The final model (complexity-aware training ends with a smaller one).</summary>
    public required Model Model { get; init; }
    /// <summary>Dataset name.</summary>
    public required string Dataset { get; init; }
    /// <summary>Epochs completed in total (resumed ones included).</summary>
    public int Epochs { get; init; }
    /// <summary>Test accuracy after the last epoch (null when no epoch ran).</summary>
    public double? TestAccuracy { get; init; }
    /// <summary>Best test accuracy over the epochs.</summary>
    public double BestTestAccuracy { get; init; }
    /// <summary>Training loss of the last epoch.</summary>
    public double? TrainLoss { get; init; }
    /// <summary>Wall seconds of this invocation.</summary>
    public double Seconds { get; init; }
    /// <summary>Training seconds per epoch run in this invocation (evaluation excluded).</summary>
    public double SecondsPerEpoch { get; init; }
    /// <summary>Training plus evaluation seconds over every epoch of the run (resumed ones included).</summary>
    public double TrainSeconds { get; init; }
    /// <summary>Parameters of the final model.</summary>
    public long Params { get; init; }
    /// <summary>MACs of one image through the final model.</summary>
    public long Macs { get; init; }
    /// <summary>The seed.</summary>
    public ulong Seed { get; init; }
    /// <summary>Threads used.</summary>
    public int Threads { get; init; }
    /// <summary>Full path of the run folder, or null.</summary>
    public string? OutDir { get; init; }
    /// <summary>gRDA's sparsity and its compacted model's figures (<see cref="GrdaSummary"/>), or null.</summary>
    public GrdaSummary? Grda { get; init; }
    /// <summary>Complexity-aware training's figures, or null.</summary>
    public JsonObject? ComplexityAware { get; init; }
    /// <summary>Every epoch's record.</summary>
    public required JsonArray History { get; init; }

    /// <summary>The summary the CLI prints with --json.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["model"] = Model.Graph.Name,
            ["dataset"] = Dataset,
            ["epochs"] = Epochs,
            ["test_accuracy"] = TestAccuracy,
            ["best_test_accuracy"] = BestTestAccuracy,
            ["train_loss"] = TrainLoss,
            ["seconds"] = Seconds,
            ["seconds_per_epoch"] = SecondsPerEpoch,
            ["params"] = Params,
            ["macs"] = Macs,
            ["seed"] = Seed,
            ["threads"] = Threads,
            ["out"] = OutDir,
        };
        if (Grda is not null) o["grda"] = Grda.ToJson();
        if (ComplexityAware is not null) o["complexity_aware"] = ComplexityAware.DeepClone();
        return o;
    }
}

/// <summary>
/// gRDA leaves exact zeros: its sparsity, and the model with every filter and channel that ended entirely zero
/// compacted away (saved to OUT/compacted).
/// </summary>
public sealed record GrdaSummary
{
    /// <summary>Fraction of all parameters that are zero.</summary>
    public double Sparsity { get; init; }
    /// <summary>Fraction of convolution and linear weights that are zero.</summary>
    public double WeightSparsity { get; init; }
    /// <summary>Nonzero parameters.</summary>
    public long NonzeroParams { get; init; }
    /// <summary>Parameters of the compacted model.</summary>
    public long CompactedParams { get; init; }
    /// <summary>MACs of the compacted model.</summary>
    public long CompactedMacs { get; init; }
    /// <summary>Fraction of parameters the compacted model keeps.</summary>
    public double ParamsKept { get; init; }
    /// <summary>Fraction of MACs the compacted model keeps.</summary>
    public double MacsKept { get; init; }
    /// <summary>Nonzero parameters of the compacted model.</summary>
    public long CompactedNonzeroParams { get; init; }
    /// <summary>Fraction of the compacted model's values still zero (what only sparse kernels could use).</summary>
    public double CompactedUnstructuredSparsity { get; init; }
    /// <summary>Full path of the compacted model's folder, or null.</summary>
    public string? Compacted { get; init; }

    /// <summary>The run summary's "grda" object.</summary>
    public JsonObject ToJson() => new()
    {
        ["sparsity"] = Sparsity, ["weight_sparsity"] = WeightSparsity, ["nonzero_params"] = NonzeroParams,
        ["compacted_params"] = CompactedParams, ["compacted_macs"] = CompactedMacs, ["params_kept"] = ParamsKept, ["macs_kept"] = MacsKept,
        ["compacted_nonzero_params"] = CompactedNonzeroParams, ["compacted_unstructured_sparsity"] = CompactedUnstructuredSparsity, ["compacted"] = Compacted,
    };
}
