using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Training;

namespace Lopper.Pruning;

/// <summary>What a pruning method gets: the trained model and the data to score, train or fine-tune with.</summary>
public sealed class PruneContext
{
    /// <summary>The trained dense model; methods may change it.</summary>
    public required Model Model { get; init; }
    private readonly DataLoader? _train, _test;

    /// <summary>Training data (shuffled, augmented as the source run was); a method that reads it without data given fails asking for it.</summary>
    public DataLoader Train { get => _train ?? throw NoData(); init => _train = value; }
    /// <summary>Evaluation data (as <see cref="Train"/>).</summary>
    public DataLoader Test { get => _test ?? throw NoData(); init => _test = value; }
    /// <summary>True when data was given (data-free methods such as L1, random and magnitude run without it).</summary>
    public bool HasData => _train is not null;

    private static LopperInputException NoData() => LopperInputException.ForOptions<Runs.PruneRequest>("this pruning method needs data: give Data (a dataset); l1, random and magnitude prune without it", "Data");
    /// <summary>Settings for any training a method does itself (sparsity training, gates, ...).</summary>
    public required TrainConfig TrainConfig { get; init; }
    /// <summary>Seed for the method's own randomness.</summary>
    public ulong Seed { get; init; }
    /// <summary>Progress of long phases.</summary>
    public IProgress<TrainProgress>? Progress { get; init; }
    /// <summary>One-line status messages (phase starts, tables).</summary>
    public Action<string> Log { get; init; } = _ => { };
}

/// <summary>What a pruning method returns.</summary>
public sealed class PruneOutcome
{
    /// <summary>The pruned model: compacted for structured methods, masked for unstructured ones.</summary>
    public required Model Pruned { get; init; }
    /// <summary>Masks to hold during fine-tuning (unstructured or connection-level pruning), or null.</summary>
    public ParameterMasks? Masks { get; init; }
    /// <summary>MACs of the pruned model when its masks remove work the graph's dense count cannot see (connection
    /// pruning: surviving slices only), or null to count the graph.</summary>
    public long? Macs { get; init; }
    /// <summary>Method-specific figures for run.json.</summary>
    public JsonObject Details { get; init; } = new();
}

/// <summary>A pruning method: scores, masks and (where it can) compacts a trained model.</summary>
public interface IPruningMethod
{
    /// <summary>Name as on the command line.</summary>
    string Name { get; }

    /// <summary>Prunes <see cref="PruneContext.Model"/>.</summary>
    PruneOutcome Prune(PruneContext context);
}
