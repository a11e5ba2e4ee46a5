using Lopper.Data;
using Lopper.Tensors;
using Lopper.Training;

namespace Lopper.Onnx.Runtime;

/// <summary>Test loss and accuracy of a model run in ONNX Runtime, over the same batches and with the same loss as <see cref="Evaluator"/>.</summary>
public static class OrtEvaluator
{
    /// <summary>Mean cross-entropy and accuracy of <paramref name="model"/> on every batch of <paramref name="loader"/>.</summary>
    public static (double Loss, double Accuracy, long Correct) Evaluate(OrtModel model, DataLoader loader)
    {
        double lossSum = 0;
        long correct = 0, count = 0;
        for (int b = 0; b < loader.BatchesPerEpoch; b++)
        {
            using var batch = loader.GetBatch(0, b);
            var y = model.Run(batch.Images);
            var logits = new Tensor([batch.Images.Shape[0], y.Length / batch.Images.Shape[0]], y);
            lossSum += SoftmaxCrossEntropy.Compute(logits, batch.Labels.AsSpan(0, batch.Count), 0f, null, out int c) * batch.Count;
            correct += c;
            count += batch.Count;
        }
        return count == 0 ? (0, 0, 0) : (lossSum / count, (double)correct / count, correct);
    }
}
