using Lopper.Tensors;

namespace Lopper.Training;

/// <summary>
/// Mean softmax cross-entropy over a batch of logits [N, K], with optional label smoothing
/// (target = (1 - s) one-hot + s / K, as PyTorch's label_smoothing).
/// </summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// Returns the mean loss and, when <paramref name="gradLogits"/> is given, writes d(loss)/d(logits)
    /// into it. <paramref name="correct"/> receives how many rows have their label as the arg-max.
    /// </summary>
    public static double Compute(Tensor logits, ReadOnlySpan<int> labels, float smoothing, Tensor? gradLogits, out int correct)
    {
        int n = logits.Shape[0], k = logits.Shape[1];
        if (labels.Length != n) throw new LopperInputException($"{labels.Length} labels for a batch of {n}");
        double total = 0;
        correct = 0;
        var scratch = BufferPool.Rent(k);
        float off = smoothing / k, on = 1 - smoothing + off;
        for (int i = 0; i < n; i++)
        {
            var row = logits.Span.Slice(i * k, k);
            int label = labels[i];
            if ((uint)label >= (uint)k) throw new LopperInputException($"label {label} out of range for {k} classes");
            int argmax = TensorPrimitives.IndexOfMax(row);
            if (argmax == label) correct++;
            float max = row[argmax];
            TensorPrimitives.Subtract(row, max, scratch);
            TensorPrimitives.Exp(scratch, scratch);
            double sum = TensorPrimitives.Sum<float>(scratch);
            double logSum = Math.Log(sum) + max;
            // loss = -sum_j target_j * (logit_j - logSum)
            double loss = (1 - smoothing) * (logSum - row[label]);
            if (smoothing > 0) loss += smoothing * (logSum - TensorPrimitives.Sum(row) / (double)k);
            total += loss;
            if (gradLogits is not null)
            {
                var g = gradLogits.Span.Slice(i * k, k);
                float inv = (float)(1.0 / (sum * n));
                TensorPrimitives.Multiply(scratch, inv, g);
                float offN = off / n;
                TensorPrimitives.Subtract(g, offN, g);
                g[label] -= (on - off) / n;
            }
        }
        BufferPool.Return(scratch);
        return total / n;
    }
}
