using Lopper.Graph;
using Lopper.Training;

namespace Lopper.Pruning;

/// <summary>Keeps masked weights at zero during training: gradients masked before the step, weights after it.</summary>
public sealed class MaskHook(ParameterMasks masks) : ITrainingHook
{
    /// <summary>The masks enforced.</summary>
    public ParameterMasks Masks { get; } = masks;

    /// <inheritdoc/>
    public void BeforeStep(Model model, int epoch, int step) => Masks.Apply(model);

    /// <inheritdoc/>
    public void AfterBackward(Model model, int epoch, int step) => Masks.ApplyToGradients(model);

    /// <inheritdoc/>
    public void AfterStep(Model model, int epoch, int step) => Masks.Apply(model);
}
