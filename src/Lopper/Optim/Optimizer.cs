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

    /// <summary>The state keys this optimizer keeps for <paramref name="p"/> once it has taken a step.</summary>
    public abstract IEnumerable<string> StateKeys(Parameter p);

    /// <summary>Shape of an optimizer-wide entry (not tied to a parameter), or null when <paramref name="key"/> is not one.</summary>
    protected virtual int[]? GlobalShape(string key) => null;

    /// <summary>
    /// Restores saved state for <paramref name="model"/>: every entry must be one this optimizer keeps for one of
    /// the model's parameters (or an optimizer-wide entry), with exactly that parameter's shape; the first problem
    /// is a <see cref="LopperInputException"/> naming the entry. Entries that must exist are checked by
    /// <see cref="CheckComplete"/> once the trained parameters are known.
    /// </summary>
    public void Restore(IReadOnlyDictionary<string, Tensor> state, long steps, Model model)
    {
        if (steps < 0) throw new LopperInputException($"optimizer state: step count {steps} is negative");
        foreach (var (key, t) in state)
        {
            if (GlobalShape(key) is { } g)
            {
                if (!t.Shape.AsSpan().SequenceEqual(g)) throw new LopperInputException($"optimizer state: '{key}' has shape {Tensor.Format(t.Shape)}, expected {Tensor.Format(g)}");
                continue;
            }
            int slash = key.IndexOf('/');
            var p = slash < 0 ? null : model.Find(key[(slash + 1)..]);
            if (p is null || !p.Trainable || !StateKeys(p).Contains(key))
                throw new LopperInputException($"optimizer state: unexpected entry '{key}' for {Name} (no such trainable parameter, or state of another optimizer)");
            if (!t.Shape.AsSpan().SequenceEqual(p.Spec.Shape))
                throw new LopperInputException($"optimizer state: '{key}' has shape {Tensor.Format(t.Shape)}, parameter {p.Name} is {Tensor.Format(p.Spec.Shape)}");
            foreach (float v in t.Span)
                if (!float.IsFinite(v)) throw new LopperInputException($"optimizer state: '{key}' holds a non-finite value");
        }
        LoadState(state, steps);
    }

    /// <summary>
    /// After a restore, before the next step: every parameter the optimizer will update must have its state
    /// (after at least one step), or the run would silently stop continuing exactly.
    /// </summary>
    public void CheckComplete(IEnumerable<Parameter> optimized)
    {
        if (Steps == 0) return;
        var state = State;
        foreach (var p in optimized)
            foreach (var key in StateKeys(p))
                if (!state.ContainsKey(key)) throw new LopperInputException($"optimizer state: missing '{key}' after {Steps} step(s)");
    }
}
