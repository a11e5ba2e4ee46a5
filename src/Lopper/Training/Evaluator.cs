using Lopper.Data;
using Lopper.Graph;

namespace Lopper.Training;

/// <summary>Accuracy and loss of a model on a dataset, in inference mode.</summary>
public static class Evaluator
{
    /// <summary>
    /// Mean loss and top-1 accuracy (a fraction) over every sample of <paramref name="loader"/>. Without an
    /// <paramref name="executor"/> (a trainer passes its own, whose hooks must see the pass) the batches run
    /// in sub-batches that threads take whole (<see cref="SplitBatchInference"/>), on the deployment form of the
    /// model (batch-norm folded into the convolutions before it, joins fused: <see cref="InferenceFolding"/>), which
    /// computes the same function with fewer passes over memory; the weights do not change during an evaluation.
    /// </summary>
    public static (double Loss, double Accuracy) Evaluate(Model model, DataLoader loader, Executor? executor = null)
    {
        var split = executor is null ? new SplitBatchInference(InferenceFolding.Fold(model)) : null;
        double lossSum = 0;
        long correct = 0, count = 0;
        for (int b = 0; b < loader.BatchesPerEpoch; b++)
        {
            using var batch = loader.GetBatch(0, b);
            var logits = split is not null ? split.Forward(batch.Images) : executor!.Forward(batch.Images, training: false, forBackward: false);
            lossSum += SoftmaxCrossEntropy.Compute(logits, batch.Labels.AsSpan(0, batch.Count), 0f, null, out int c) * batch.Count;
            correct += c;
            count += batch.Count;
            if (split is not null) logits.Release();
            else executor!.EndStep();
        }
        return count == 0 ? (0, 0) : (lossSum / count, (double)correct / count);
    }
}
