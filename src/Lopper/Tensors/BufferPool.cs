namespace Lopper.Tensors;

/// <summary>
/// Recycles float arrays by exact length. A training step asks for the same sizes every time,
/// so after the first step no activation or gradient buffer is allocated.
/// </summary>
/// <remarks>
/// Each thread keeps the last few arrays it gave back for itself and takes from them first: an array a thread
/// just wrote is in that core's cache, and handing it to the other core (as one shared stack did) made that core
/// fetch every line of it from its neighbour before writing over it, once per layer and sub-batch in split-batch
/// inference.
/// </remarks>
public static class BufferPool
{
    private static readonly Dictionary<int, Stack<float[]>> Free = new();
    private static readonly object Gate = new();

    // Per thread and length, at most this many arrays stay local; the rest go to the shared stacks, so an array
    // rented on one thread and returned on another cannot pile up where nobody rents it.
    private const int LocalPerLength = 4;

    [ThreadStatic] private static Dictionary<int, Stack<float[]>>? _local;
    [ThreadStatic] private static int _localGeneration;
    private static int _generation;

    // This thread's arrays, dropped when Clear ran since it last looked.
    private static Dictionary<int, Stack<float[]>> Local()
    {
        var local = _local ??= new Dictionary<int, Stack<float[]>>();
        int generation = Volatile.Read(ref _generation);
        if (_localGeneration != generation)
        {
            local.Clear();
            _localGeneration = generation;
        }
        return local;
    }

    /// <summary>Number of arrays allocated because the pool had none free (for diagnostics).</summary>
    public static long Misses { get; private set; }

    /// <summary>An array of exactly <paramref name="length"/> floats; contents are undefined.</summary>
    public static float[] Rent(int length)
    {
        if (Local().TryGetValue(length, out var mine) && mine.Count > 0) return mine.Pop();
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
        var local = Local();
        if (!local.TryGetValue(array.Length, out var mine)) local[array.Length] = mine = new Stack<float[]>();
        if (mine.Count < LocalPerLength)
        {
            mine.Push(array);
            return;
        }
        lock (Gate)
        {
            if (!Free.TryGetValue(array.Length, out var stack)) Free[array.Length] = stack = new Stack<float[]>();
            stack.Push(array);
        }
    }

    /// <summary>Drops every pooled array (e.g. after a model was compacted and sizes changed); each thread drops its own at its next rent or return.</summary>
    public static void Clear()
    {
        lock (Gate) Free.Clear();
        Interlocked.Increment(ref _generation);
    }
}
