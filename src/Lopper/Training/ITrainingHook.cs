using System.Text.Json.Nodes;
using Lopper.Graph;

namespace Lopper.Training;

/// <summary>
/// Lets a training-time method (masks, gates, probabilistic pruning) act inside the standard loop
/// instead of owning a loop of its own.
/// </summary>
public interface ITrainingHook
{
    /// <summary>Before the forward pass of a step (e.g. draw new masks).</summary>
    void BeforeStep(Model model, int epoch, int step) { }

    /// <summary>After gradients exist, before the optimizer uses them (e.g. zero masked gradients).</summary>
    void AfterBackward(Model model, int epoch, int step) { }

    /// <summary>After the optimizer step (e.g. re-apply masks).</summary>
    void AfterStep(Model model, int epoch, int step) { }

    /// <summary>At the end of an epoch; may add fields to the epoch's record.</summary>
    void EndEpoch(Model model, int epoch, JsonObject record) { }
}
