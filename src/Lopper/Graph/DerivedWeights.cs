namespace Lopper.Graph;

/// <summary>
/// What ops derive from a model's weights (packed convolution kernels), one slot per node, shared by the executors
/// that run the model in parallel (<see cref="SplitBatchInference"/>'s) so that each node's weights are packed
/// once per session, not once per pass or per executor. Creating one is a promise that the model's parameters do
/// not change while it is in use.
/// </summary>
public sealed class DerivedWeights
{
    private readonly object?[] _slots;

    /// <summary>Empty slots for a model of <paramref name="nodes"/> nodes.</summary>
    public DerivedWeights(int nodes) => _slots = new object?[nodes];

    internal object? Get(int node) => Volatile.Read(ref _slots[node]);

    // What each node derived so far (null: nothing yet, or nothing to derive); for tests of which kernels ran.
    internal IReadOnlyList<object?> Slots => _slots;

    internal object Offer(int node, object value) => Interlocked.CompareExchange(ref _slots[node], value, null) ?? value;
}
