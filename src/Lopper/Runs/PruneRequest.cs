using Lopper.Methods;
using Lopper.Pruning;

namespace Lopper.Runs;

/// <summary>What <see cref="PrunePipeline.Run"/> does: which model, which method, and what follows the pruning.</summary>
public sealed record PruneRequest
{
    /// <summary>The trained model's folder.</summary>
    public required RunFolder Source { get; init; }

    /// <summary>The method (for example <c>new SnacsPruner(new SnacsOptions { TargetParams = 0.5 })</c>, or one made by the registry).</summary>
    public required IPruningMethod Method { get; init; }

    /// <summary>
    /// The data to score, fine-tune and evaluate on; null: the data the source was trained on, or none when its record
    /// names none (data-free methods then prune without measuring accuracy).
    /// </summary>
    public DataSpec? Data { get; init; }

    /// <summary>Fine-tuning epochs after pruning (0: none).</summary>
    public int FinetuneEpochs { get; init; }

    /// <summary>Fine-tuning (and in-method training) learning rate; cosine schedule, no warm-up.</summary>
    [Option("fine-tuning learning rate")]
    public float Lr { get; init; } = 0.01f;

    /// <summary>Mini-batch size.</summary>
    [Option("mini-batch size")]
    public int BatchSize { get; init; } = 128;

    /// <summary>Seed of the method's randomness and of fine-tuning; null: the source run's seed.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Train on the first this-many training images (0: all); null: the source run's limit.</summary>
    [Option("train on the first N training images (0 = all; default: the source run's)")]
    public int? TrainLimit { get; init; }

    /// <summary>
    /// Re-estimate batch-norm statistics on this many training batches (at most one epoch's worth) right after
    /// pruning, before the "pruned" accuracy and fine-tuning: a pruned layer's outputs no longer match the dense
    /// model's running statistics, which alone usually leaves the pruned model at chance. 0 keeps the dense
    /// model's statistics. Skipped for a model without batch-norm and when there is no data.
    /// </summary>
    [Option("re-estimate batch-norm statistics on N training batches right after pruning (0 = off)", Name = "bn-recalibrate")]
    public int BnRecalibrateBatches { get; init; } = DefaultBnRecalibrateBatches;

    /// <summary>The default of <see cref="BnRecalibrateBatches"/>.</summary>
    public const int DefaultBnRecalibrateBatches = 50;

    /// <summary>Batch size of the latency measurements before and after.</summary>
    public int LatencyBatch { get; init; } = 128;

    /// <summary>Folder for fine-tuning checkpoints and the result (written by <see cref="PrunePipeline.Run"/>); null: keep in memory, save with <see cref="PruneResult.Save"/>.</summary>
    public string? OutDir { get; init; }

    /// <summary>
    /// Continue a fine-tune interrupted in <see cref="OutDir"/> from its newest checkpoint instead of starting it over.
    /// The pruning is done again (it is seeded) and the checkpoint is used only when it is that pruning's; otherwise
    /// the fine-tune starts from the beginning and the log says why.
    /// </summary>
    public bool Resume { get; init; }

    /// <summary>How the run was asked for (for example the command line), recorded as "command".</summary>
    public string? Command { get; init; }

    /// <summary>Checks the values; errors name the property.</summary>
    public PruneRequest Validate()
    {
        if (FinetuneEpochs < 0) throw LopperInputException.ForOptions<PruneRequest>($"FinetuneEpochs must be at least 0, got {FinetuneEpochs}", nameof(FinetuneEpochs));
        if (!(Lr >= 0 && float.IsFinite(Lr))) throw LopperInputException.ForOptions<PruneRequest>($"Lr must be a finite number >= 0, got {Lr}", nameof(Lr));
        if (BatchSize < 1) throw LopperInputException.ForOptions<PruneRequest>($"BatchSize must be at least 1, got {BatchSize}", nameof(BatchSize));
        if (TrainLimit is < 0) throw LopperInputException.ForOptions<PruneRequest>($"TrainLimit must be at least 0, got {TrainLimit}", nameof(TrainLimit));
        if (BnRecalibrateBatches < 0) throw LopperInputException.ForOptions<PruneRequest>($"BnRecalibrateBatches must be at least 0, got {BnRecalibrateBatches}", nameof(BnRecalibrateBatches));
        if (LatencyBatch < 1) throw LopperInputException.ForOptions<PruneRequest>($"LatencyBatch must be at least 1, got {LatencyBatch}", nameof(LatencyBatch));
        if (Resume && OutDir is null) throw LopperInputException.ForOptions<PruneRequest>("Resume needs an OutDir to resume in", nameof(Resume));
        if (OutDir is not null) RunFolder.CheckOutside(OutDir, Source.Dir, nameof(OutDir), nameof(Source));
        return this;
    }
}
