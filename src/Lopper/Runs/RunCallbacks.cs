using System.Text.Json.Nodes;
using Lopper.Training;

namespace Lopper.Runs;

/// <summary>One finished training epoch, as the pipelines report it.</summary>
/// <param name="Epoch">Zero-based epoch index.</param>
/// <param name="Epochs">Epochs of the phase it belongs to.</param>
/// <param name="Record">The epoch's figures (train_loss, train_accuracy, test_accuracy, train_seconds, images_per_second, ...).</param>
public sealed record EpochReport(int Epoch, int Epochs, JsonObject Record);

/// <summary>How a pipeline tells its caller what it is doing; every member may be left out.</summary>
public sealed class RunCallbacks
{
    /// <summary>Progress within long phases (steps of an epoch, probe passes).</summary>
    public IProgress<TrainProgress>? Progress { get; init; }

    /// <summary>One-line status messages (phase starts, notices, tables).</summary>
    public Action<string> Log { get; init; } = _ => { };

    /// <summary>Each finished training epoch.</summary>
    public Action<EpochReport>? Epoch { get; init; }

    /// <summary>Callbacks that report nothing.</summary>
    public static RunCallbacks None { get; } = new();

    internal ITrainingHook? EpochHook(Func<int> epochs) => Epoch is null ? null : new EpochRelay(Epoch, epochs);

    private sealed class EpochRelay(Action<EpochReport> epoch, Func<int> epochs) : ITrainingHook
    {
        public void EndEpoch(Graph.Model model, int e, JsonObject record) => epoch(new EpochReport(e, epochs(), record));
    }
}
