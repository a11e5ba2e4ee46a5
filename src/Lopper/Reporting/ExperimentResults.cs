namespace Lopper.Reporting;

/// <summary>The dense model every prune cell starts from.</summary>
public sealed record BaselineResult
{
    /// <summary>Its run folder, relative to the results file's folder.</summary>
    public required string Dir { get; init; }
    /// <summary>True when the experiment trained it (false: taken from an existing run folder).</summary>
    public bool Trained { get; init; }
    /// <summary>Zoo model name.</summary>
    public string? Model { get; init; }
    /// <summary>Top-1 test accuracy.</summary>
    public double? Accuracy { get; init; }
    /// <summary>Trainable parameters.</summary>
    public long? Params { get; init; }
    /// <summary>MACs per image.</summary>
    public long? Macs { get; init; }
    /// <summary>Training epochs (when known).</summary>
    public int? Epochs { get; init; }
    /// <summary>Seconds the experiment spent training it (0 when taken from a folder or already done).</summary>
    public double Seconds { get; init; }
}

/// <summary>What `lopper experiment` writes to results.json: the grid's baseline and every cell.</summary>
public sealed record ExperimentResults
{
    /// <summary>Format tag written into the file.</summary>
    public const string Format = "lopper.results/1";

    /// <summary>The experiment's name.</summary>
    public required string Name { get; init; }
    /// <summary>The config file it came from.</summary>
    public string? Config { get; init; }
    /// <summary>Dataset name.</summary>
    public string? Dataset { get; init; }
    /// <summary>Threads the runs used.</summary>
    public int Threads { get; init; }
    /// <summary>The baseline, or null when it could not be made.</summary>
    public BaselineResult? Baseline { get; init; }
    /// <summary>Every cell in grid order.</summary>
    public IReadOnlyList<CellResult> Cells { get; init; } = [];
    /// <summary>When the file was written (UTC, ISO 8601).</summary>
    public string? UpdatedUtc { get; init; }
}
