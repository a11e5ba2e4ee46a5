using Lopper.Graph;
using Lopper.Tensors;

namespace Lopper.Optim;

/// <summary>
/// Updates trainable parameters from their gradients. State (momentum buffers, moments) is a set of
/// named tensors so checkpoints can save it and a resumed run continues exactly.
/// </summary>
public abstract class Optimizer
{
    /// <summary>Name as given on the command line.</summary>
    public abstract string Name { get; }

    /// <summary>Number of steps taken so far.</summary>
    public long Steps { get; protected set; }

    /// <summary>Applies one update with learning rate <paramref name="lr"/> to every trainable parameter.</summary>
    public abstract void Step(IReadOnlyList<Parameter> parameters, float lr);

    /// <summary>Named state tensors (keys are "kind/parameter-name").</summary>
    public abstract IReadOnlyDictionary<string, Tensor> State { get; }

    /// <summary>Restores state saved from <see cref="State"/> and the step count.</summary>
    public abstract void LoadState(IReadOnlyDictionary<string, Tensor> state, long steps);

    /// <summary>Copies a saved tensor into a buffer, checking its shape.</summary>
    protected static void Restore(IReadOnlyDictionary<string, Tensor> state, string key, Tensor into)
    {
        if (!state.TryGetValue(key, out var t)) throw new LopperInputException($"optimizer state: missing '{key}'");
        if (!t.Shape.AsSpan().SequenceEqual(into.Shape)) throw new LopperInputException($"optimizer state: '{key}' has shape {Tensor.Format(t.Shape)}, expected {Tensor.Format(into.Shape)}");
        t.Span.CopyTo(into.Span);
    }
}
