namespace Lopper;

/// <summary>
/// Process-wide thread budget. Work is split in fixed, index-determined chunks so results do not
/// depend on scheduling: the same thread count always gives bit-identical numbers.
/// </summary>
public static class Parallelism
{
    private static int _threads = Environment.ProcessorCount;

    /// <summary>Number of worker threads the kernels may use (at least 1).</summary>
    public static int Threads
    {
        get => _threads;
        set
        {
            if (value < 1) throw new LopperInputException($"--threads must be at least 1, got {value}");
            _threads = value;
            ThreadPool.GetMinThreads(out _, out int io);
            ThreadPool.SetMinThreads(Math.Max(value, 2), io);
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> for chunk indices 0..chunks-1 on up to <see cref="Threads"/> threads.
    /// Runs inline when one thread or one chunk, so single-thread runs never touch the pool.
    /// </summary>
    /// <remarks>
    /// A call made from inside another <see cref="For"/> runs inline: an op that splits a batch over
    /// threads can call kernels that would otherwise split again and oversubscribe the cores.
    /// </remarks>
    public static void For(int chunks, Action<int> body)
    {
        int t = Math.Min(_threads, chunks);
        if (t <= 1 || _inParallel)
        {
            for (int i = 0; i < chunks; i++) body(i);
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = t }, i =>
        {
            bool outer = _inParallel;
            _inParallel = true;
            try { body(i); }
            finally { _inParallel = outer; }
        });
    }

    /// <summary>True on a thread that is running a chunk of <see cref="For"/>.</summary>
    public static bool InParallelRegion => _inParallel;

    [ThreadStatic] private static bool _inParallel;
}
