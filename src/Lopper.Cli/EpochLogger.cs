using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Training;

namespace Lopper.Cli;

/// <summary>Prints one line per finished epoch on stderr (train, prune's fine-tuning, finetune).</summary>
public sealed class EpochLogger(Trainer trainer) : ITrainingHook
{
    /// <inheritdoc/>
    public void EndEpoch(Model model, int epoch, JsonObject r)
    {
        string sparsity = r["sparsity"] is { } s ? $" sparsity {(double)s * 100:F2}%" : "";
        if (r["macs"] is { } m) sparsity += $" {(long)m / 1e6:F2}M MACs";
        Console.Error.WriteLine($"epoch {epoch + 1}/{trainer.Config.Epochs}: loss {(double)r["train_loss"]!:F4} train {(double)r["train_accuracy"]! * 100:F2}% test {((double?)r["test_accuracy"] ?? 0) * 100:F2}%{sparsity} {(double)r["train_seconds"]!:F1}s {(double)r["images_per_second"]!:F0} img/s");
    }
}
