namespace Lopper.Reporting;

/// <summary>
/// One cell of an experiment grid: a method at one budget, seed and fine-tune length, and every figure
/// its run measured. Figures are null when the cell failed (then <see cref="Error"/> says why).
/// </summary>
public sealed record CellResult
{
    /// <summary>Status of a cell that ran to the end.</summary>
    public const string Ok = "ok";
    /// <summary>Status of a cell whose command failed.</summary>
    public const string Failed = "failed";

    /// <summary>Unique name of the cell inside its experiment (also its folder name).</summary>
    public required string Id { get; init; }
    /// <summary>The method entry's name in the config: the legend label in the report.</summary>
    public required string Label { get; init; }
    /// <summary>The pruning method run (e.g. l1), or the optimizer of a train cell (e.g. grda).</summary>
    public required string Method { get; init; }
    /// <summary>"prune" (lopper prune from the baseline) or "train" (lopper train from scratch).</summary>
    public required string Kind { get; init; }
    /// <summary>The flag the budget was passed as (e.g. target-macs), or null when the cell has none.</summary>
    public string? BudgetFlag { get; init; }
    /// <summary>The budget value as written in the config.</summary>
    public string? Budget { get; init; }
    /// <summary>Seed of the cell's run.</summary>
    public long Seed { get; init; }
    /// <summary>Fine-tune epochs (prune cells) or training epochs (train cells).</summary>
    public int Epochs { get; init; }
    /// <summary><see cref="Ok"/> or <see cref="Failed"/>.</summary>
    public required string Status { get; init; }
    /// <summary>Why the cell failed (one line), or null.</summary>
    public string? Error { get; init; }
    /// <summary>The cell's run folder, relative to the results file's folder.</summary>
    public required string Dir { get; init; }
    /// <summary>
    /// The model the cell's result is compared with, relative to the results file's folder: the baseline for
    /// prune cells, the cell's own dense model for train cells (whose result is its compacted copy).
    /// </summary>
    public string? Source { get; init; }
    /// <summary>The cell's final model folder, relative to the results file's folder (null when it failed).</summary>
    public string? Model { get; init; }
    /// <summary>The lopper arguments the cell ran (without --threads), so a changed config is noticed on resume.</summary>
    public IReadOnlyList<string> Args { get; init; } = [];

    /// <summary>Top-1 test accuracy of the model the cell started from (the baseline for train cells).</summary>
    public double? AccuracyBefore { get; init; }
    /// <summary>Top-1 test accuracy right after pruning (before fine-tuning).</summary>
    public double? AccuracyPruned { get; init; }
    /// <summary>Top-1 test accuracy after fine-tuning (the cell's final accuracy).</summary>
    public double? AccuracyFinetuned { get; init; }
    /// <summary>Trainable parameters before.</summary>
    public long? ParamsBefore { get; init; }
    /// <summary>Trainable parameters after (nonzero ones where masks or unstructured zeros remain).</summary>
    public long? ParamsAfter { get; init; }
    /// <summary>MACs per image before.</summary>
    public long? MacsBefore { get; init; }
    /// <summary>MACs per image after compaction.</summary>
    public long? MacsAfter { get; init; }
    /// <summary>Batch size the latency was measured at.</summary>
    public int? LatencyBatch { get; init; }
    /// <summary>
    /// Threads the latency was measured with: the run's own count, unless the latency was measured again later with
    /// another (`lopper experiment --remeasure-latency`); null in records written before this field.
    /// </summary>
    public int? LatencyThreads { get; init; }
    /// <summary>Median latency of one batch before, in milliseconds.</summary>
    public double? LatencyMsBefore { get; init; }
    /// <summary>Median latency of one batch after, in milliseconds.</summary>
    public double? LatencyMsAfter { get; init; }
    /// <summary>Seconds per phase (e.g. measure, prune, finetune, total; train, measure, total).</summary>
    public IReadOnlyDictionary<string, double> Seconds { get; init; } = new Dictionary<string, double>();

    /// <summary>True when the cell ran to the end.</summary>
    public bool IsOk => Status == Ok;
    /// <summary>Fraction of MACs kept, or null.</summary>
    public double? MacsKept => MacsAfter is long a && MacsBefore is long b && b > 0 ? (double)a / b : null;
    /// <summary>Fraction of parameters kept, or null.</summary>
    public double? ParamsKept => ParamsAfter is long a && ParamsBefore is long b && b > 0 ? (double)a / b : null;
}
