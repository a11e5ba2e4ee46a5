namespace Lopper.Pruning.Spp;

/// <summary>What <see cref="SppPruner.PlanLayers"/> decided: the layers to prune and the convolutions kept whole.</summary>
/// <param name="Layers">The pruned layers with their targets, in graph order.</param>
/// <param name="TotalConvMacs">Convolution MACs of the whole model for one image (pruned or not).</param>
/// <param name="Whole">Convolutions a speedup target leaves whole, with the reason (stem, too few columns).</param>
public sealed record SppPlan(IReadOnlyList<SppLayer> Layers, long TotalConvMacs, IReadOnlyList<(string Node, string Reason)> Whole)
{
    /// <summary>The layers and total MACs, for callers that do not need the kept-whole list.</summary>
    public void Deconstruct(out IReadOnlyList<SppLayer> layers, out long totalConvMacs)
    {
        layers = Layers;
        totalConvMacs = TotalConvMacs;
    }
}
