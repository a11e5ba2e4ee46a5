using Lopper.Tensors;

namespace Lopper.Graph;

/// <summary>
/// Per-node scratch for one forward/backward pass: what the op saved for backward, whether it is
/// training, and which inputs need gradients. Pooled tensors registered with <see cref="Keep"/> go
/// back to the pool when the executor clears the state.
/// </summary>
public sealed class NodeState
{
    private readonly List<Tensor> _kept = new();

    /// <summary>True in training mode (batch statistics, dropout on).</summary>
    public bool Training { get; internal set; }

    /// <summary>False when only inference runs: the op need not save anything.</summary>
    public bool WillBackward { get; internal set; }

    /// <summary>Entry i is true when the gradient for input i is wanted.</summary>
    public bool[] NeedsInputGrad { get; internal set; } = [];

    /// <summary>Randomness for stochastic ops (dropout); seeded by the caller per step.</summary>
    public Rng? Random { get; internal set; }

    // One slot per node, shared by every executor of one frozen-weights session (see Executor(Model, DerivedWeights)).
    internal DerivedWeights? Shared { get; set; }

    internal int Index { get; set; }

    /// <summary>True when the node's parameters do not change while this state lives (see <see cref="DerivedWeights"/>).</summary>
    public bool FrozenWeights => Shared is not null;

    /// <summary>
    /// Op-defined data derived from the node's parameters (e.g. packed kernels), kept across passes and shared by
    /// the executors of one <see cref="DerivedWeights"/>; null without frozen weights or before the first pass.
    /// </summary>
    public object? Derived => Shared?.Get(Index);

    /// <summary>
    /// Offers <paramref name="value"/> as the node's derived data and returns the one kept: the first offered, so
    /// executors that packed the same weights at once on different threads all use one copy.
    /// </summary>
    public T KeepDerived<T>(T value) where T : class => Shared is null ? value : (T)Shared.Offer(Index, value);

    /// <summary>Op-defined data saved by forward for backward.</summary>
    public object? Saved { get; set; }

    /// <summary>Registers a pooled tensor to be released when the pass is over; returns it.</summary>
    public Tensor Keep(Tensor t)
    {
        _kept.Add(t);
        return t;
    }

    /// <summary>Releases kept tensors and forgets saved data.</summary>
    public void Clear()
    {
        foreach (var t in _kept) t.Release();
        _kept.Clear();
        Saved = null;
    }
}
