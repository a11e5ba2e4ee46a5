using Lopper.Data;
using Lopper.Graph;

namespace Lopper.Training;

/// <summary>Accuracy and loss of a model on a dataset, in inference mode.</summary>
public static class Evaluator
{
    /// <summary>
    /// Mean loss and top-1 accuracy (a fraction) over every sample of <paramref name="loader"/>. The batches run
    /// in sub-batches that threads take whole (<see cref="SplitBatchInference"/>), on the deployment form of the
    /// model (batch-norm folded into the convolutions before it, joins fused: <see cref="InferenceFolding"/>), which
    /// computes the same function with fewer passes over memory; the weights do not change during an evaluation,
    /// and training hooks act between steps, not inside a forward pass, so the trainer's epoch-end pass and
    /// SR-init's sweep take this path too.
    /// </summary>
    public static (double Loss, double Accuracy) Evaluate(Model model, DataLoader loader)
    {
        var split = new SplitBatchInference(InferenceFolding.Fold(model));
        double lossSum = 0;
        long correct = 0, count = 0;
        for (int b = 0; b < loader.BatchesPerEpoch; b++)
        {
            using var batch = loader.GetBatch(0, b);
            var logits = split.Forward(batch.Images);
            lossSum += SoftmaxCrossEntropy.Compute(logits, batch.Labels.AsSpan(0, batch.Count), 0f, null, out int c) * batch.Count;
            correct += c;
            count += batch.Count;
            logits.Release();
        }
        return count == 0 ? (0, 0) : (lossSum / count, (double)correct / count);
    }
}
