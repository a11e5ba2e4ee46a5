using System.Diagnostics;

namespace Lopper.Graph;

/// <summary>
/// Wall time spent in each node's forward and backward, accumulated over the passes an
/// <see cref="Executor"/> runs while it is attached (<see cref="Executor.Timings"/>). For finding where a
/// step's time goes; it adds two timestamp reads per node and pass, so leave it off when measuring throughput.
/// </summary>
public sealed class OpTimings
{
    private readonly long[] _forward;
    private readonly long[] _backward;

    /// <summary>Creates empty timings for a graph of <paramref name="nodes"/> nodes.</summary>
    public OpTimings(int nodes)
    {
        _forward = new long[nodes];
        _backward = new long[nodes];
    }

    internal void AddForward(int node, long ticks) => _forward[node] += ticks;

    internal void AddBackward(int node, long ticks) => _backward[node] += ticks;

    /// <summary>Adds <paramref name="other"/>'s times (of the same graph) into these and clears it.</summary>
    public void Absorb(OpTimings other)
    {
        if (other._forward.Length != _forward.Length) throw new ArgumentException("timings of another graph", nameof(other));
        for (int i = 0; i < _forward.Length; i++)
        {
            _forward[i] += other._forward[i];
            _backward[i] += other._backward[i];
        }
        Array.Clear(other._forward);
        Array.Clear(other._backward);
    }

    /// <summary>Seconds in node <paramref name="node"/>'s forward passes.</summary>
    public double ForwardSeconds(int node) => (double)_forward[node] / Stopwatch.Frequency;

    /// <summary>Seconds in node <paramref name="node"/>'s backward passes.</summary>
    public double BackwardSeconds(int node) => (double)_backward[node] / Stopwatch.Frequency;
}
