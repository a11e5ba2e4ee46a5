using Lopper.Graph;
using Lopper.Tensors;

namespace Lopper.Training;

/// <summary>Class probabilities of a model for an input batch (inference mode).</summary>
public static class Predictor
{
    /// <summary>
    /// Softmax of the model's scores for <paramref name="input"/> [N, C, H, W] (already preprocessed, e.g. by
    /// <see cref="Data.Preprocessing.ToBatch"/>): N x classes probabilities, row-major.
    /// </summary>
    public static float[] Probabilities(Model model, Tensor input)
    {
        model.Graph.CheckBatchShape(input.Shape);
        var logits = new SplitBatchInference(model).Forward(input);
        int n = input.Shape[0], k = model.Graph.Classes;
        var probs = new float[n * k];
        var src = logits.Span;
        for (int i = 0; i < n; i++)
        {
            var row = src.Slice(i * k, k);
            float max = float.NegativeInfinity;
            foreach (float v in row) max = Math.Max(max, v);
            double sum = 0;
            for (int c = 0; c < k; c++) sum += Math.Exp(row[c] - max);
            for (int c = 0; c < k; c++) probs[i * k + c] = (float)(Math.Exp(row[c] - max) / sum);
        }
        logits.Release();
        return probs;
    }
}
