using Lopper.Graph;

namespace Lopper.Pruning.Snacs;

/// <summary>Which values set the min–max range used to normalise weights for φ and ψ (spec §4, §12 item 3).</summary>
public enum WeightRange
{
    /// <summary>Convolution and linear weights only (default: the range means what it says).</summary>
    ConvLinear,
    /// <summary>Every parameter tensor, batch-norm statistics included, as the released code's state-dict scan does.</summary>
    [Lopper.Methods.OptionWord("all")]
    AllParameters,
}

/// <summary>
/// The weight side of ACMI (spec §4) and of sensitivity (§6): signed weights min–max normalised by one global range,
/// averaged over each connection's slice (k×k kernel positions, or the H·W columns a flattened channel owns).
/// </summary>
public static class WeightScaling
{
    /// <summary>Global (min, max) over the chosen parameters.</summary>
    public static (float Min, float Max) Range(Model model, WeightRange range)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (var p in model.Parameters)
        {
            bool use = range == WeightRange.AllParameters || (p.Spec.Name == "weight" && p.Owner.Op.Type is "conv2d" or "linear");
            if (!use || p.Value.Length == 0) continue;
            lo = Math.Min(lo, TensorPrimitives.Min(p.Value.Span));
            hi = Math.Max(hi, TensorPrimitives.Max(p.Value.Span));
        }
        return (lo, hi);
    }

    /// <summary>
    /// Ŵ[i, j] = mean over the slice of (w − min)/(max − min) for child filter i and parent channel j of a weight with
    /// <paramref name="outChannels"/> rows and <paramref name="inChannels"/> channel slices per row (row-major i·in + j).
    /// </summary>
    public static double[] Normalised(float[] weight, int outChannels, int inChannels, float min, float max)
    {
        int slice = weight.Length / (outChannels * inChannels);
        double span = max > min ? max - min : 1;
        var w = new double[outChannels * inChannels];
        for (int s = 0; s < w.Length; s++)
            w[s] = (TensorPrimitives.Sum(weight.AsSpan(s * slice, slice)) / slice - min) / span;
        return w;
    }

    /// <summary>
    /// φ[c, p] = mean of Ŵ over child filters of group c and parent channels of group p. The released code uses only
    /// the child filter whose index equals c (§12 item 5); the group mean is the intended quantity and the two agree
    /// when groups are single filters.
    /// </summary>
    public static double[,] Phi(double[] normalised, int inChannels, int[] parentStarts, int[] childStarts)
    {
        int gp = parentStarts.Length - 1, gc = childStarts.Length - 1;
        var phi = new double[gc, gp];
        for (int c = 0; c < gc; c++)
            for (int p = 0; p < gp; p++)
            {
                double sum = 0;
                for (int i = childStarts[c]; i < childStarts[c + 1]; i++)
                    for (int j = parentStarts[p]; j < parentStarts[p + 1]; j++) sum += normalised[i * inChannels + j];
                phi[c, p] = sum / ((childStarts[c + 1] - childStarts[c]) * (parentStarts[p + 1] - parentStarts[p]));
            }
        return phi;
    }
}
