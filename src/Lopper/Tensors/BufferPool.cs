namespace Lopper.Tensors;

/// <summary>
/// Recycles float arrays by exact length. A training step asks for the same sizes every time,
/// so after the first step no activation or gradient buffer is allocated.
/// </summary>
public static class BufferPool
{
    private static readonly Dictionary<int, Stack<float[]>> Free = new();
    private static readonly object Gate = new();

    /// <summary>Number of arrays allocated because the pool had none free (for diagnostics).</summary>
    public static long Misses { get; private set; }

    /// <summary>An array of exactly <paramref name="length"/> floats; contents are undefined.</summary>
    public static float[] Rent(int length)
    {
        lock (Gate)
        {
            if (Free.TryGetValue(length, out var stack) && stack.Count > 0) return stack.Pop();
            Misses++;
        }
        return GC.AllocateUninitializedArray<float>(length);
    }

    /// <summary>An array of exactly <paramref name="length"/> zeros.</summary>
    public static float[] RentZeroed(int length)
    {
        var a = Rent(length);
        Array.Clear(a);
        return a;
    }

    /// <summary>Gives an array back for reuse. The caller must not touch it afterwards.</summary>
    public static void Return(float[] array)
    {
        lock (Gate)
        {
            if (!Free.TryGetValue(array.Length, out var stack)) Free[array.Length] = stack = new Stack<float[]>();
            stack.Push(array);
        }
    }

    /// <summary>Drops every pooled array (e.g. after a model was compacted and sizes changed).</summary>
    public static void Clear()
    {
        lock (Gate) Free.Clear();
    }
}
