using Lopper.Data;
using Lopper.Graph;

namespace Lopper.Training;

/// <summary>Accuracy and loss of a model on a dataset, in inference mode.</summary>
public static class Evaluator
{
    /// <summary>Mean loss and top-1 accuracy (a fraction) over every sample of <paramref name="loader"/>.</summary>
    public static (double Loss, double Accuracy) Evaluate(Model model, DataLoader loader, Executor? executor = null)
    {
        executor ??= new Executor(model);
        double lossSum = 0;
        long correct = 0, count = 0;
        for (int b = 0; b < loader.BatchesPerEpoch; b++)
        {
            using var batch = loader.GetBatch(0, b);
            var logits = executor.Forward(batch.Images, training: false, forBackward: false);
            lossSum += SoftmaxCrossEntropy.Compute(logits, batch.Labels.AsSpan(0, batch.Count), 0f, null, out int c) * batch.Count;
            correct += c;
            count += batch.Count;
            executor.EndStep();
        }
        return count == 0 ? (0, 0) : (lossSum / count, (double)correct / count);
    }
}
