using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Training;

namespace Lopper.Pruning.Directional;

/// <summary>Exact-zero counts of a model's trainable values (no tolerance, as gRDA reports them).</summary>
/// <param name="Total">Trainable values.</param>
/// <param name="Zeros">Trainable values that are exactly 0.</param>
/// <param name="WeightTotal">Values in convolution and linear weights (tensors of rank 2 or more).</param>
/// <param name="WeightZeros">Exact zeros among those.</param>
/// <param name="L2OverL1">‖w‖₂/‖w‖₁ over all trainable values (0 for an all-zero model); it rises as mass concentrates in fewer values.</param>
/// <param name="Layers">Per layer with a weight tensor of rank 2 or more: (layer name, weight values, exact zeros), in graph order.</param>
public sealed record SparsityStats(long Total, long Zeros, long WeightTotal, long WeightZeros, double L2OverL1, IReadOnlyList<(string Layer, long Total, long Zeros)> Layers)
{
    /// <summary>Fraction of trainable values that are exactly zero.</summary>
    public double Sparsity => Total == 0 ? 0 : (double)Zeros / Total;

    /// <summary>Fraction of convolution and linear weight values that are exactly zero.</summary>
    public double WeightSparsity => WeightTotal == 0 ? 0 : (double)WeightZeros / WeightTotal;

    /// <summary>Counts a model.</summary>
    public static SparsityStats Of(Model model)
    {
        long total = 0, zeros = 0, wTotal = 0, wZeros = 0;
        double l1 = 0, l2 = 0;
        var layers = new List<(string, long, long)>();
        var seen = new HashSet<string>();
        foreach (var p in model.Parameters)
        {
            if (!p.Trainable) continue;
            long z = 0;
            foreach (float v in p.Value.Span)
            {
                if (v == 0) z++;
                double d = v;
                l1 += Math.Abs(d);
                l2 += d * d;
            }
            total += p.Value.Length;
            zeros += z;
            if (p.Spec.Shape.Length >= 2)
            {
                wTotal += p.Value.Length;
                wZeros += z;
                // A layer with two weight tensors is listed per tensor so neither hides the other.
                layers.Add((seen.Add(p.Owner.Name) ? p.Owner.Name : p.Name, p.Value.Length, z));
            }
        }
        return new SparsityStats(total, zeros, wTotal, wZeros, l1 == 0 ? 0 : Math.Sqrt(l2) / l1, layers);
    }

    /// <summary>Adds "sparsity", "weight_sparsity", "nonzero_params", "l2_over_l1" and "layer_sparsity" (layer → fraction) to <paramref name="record"/>.</summary>
    public void WriteTo(JsonObject record)
    {
        record["sparsity"] = Sparsity;
        record["weight_sparsity"] = WeightSparsity;
        record["nonzero_params"] = Total - Zeros;
        record["l2_over_l1"] = L2OverL1;
        var perLayer = new JsonObject();
        foreach (var (layer, n, z) in Layers) perLayer[layer] = n == 0 ? 0 : (double)z / n;
        record["layer_sparsity"] = perLayer;
    }
}

/// <summary>
/// Puts <see cref="SparsityStats"/> into every epoch record (and so into run.json's history), for
/// optimizers such as gRDA whose sparsity emerges during training.
/// </summary>
public sealed class SparsityHook : ITrainingHook
{
    /// <inheritdoc/>
    public void EndEpoch(Model model, int epoch, JsonObject record) => SparsityStats.Of(model).WriteTo(record);
}
