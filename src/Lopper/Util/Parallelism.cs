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
            if (value < 1) throw LopperInputException.ForOptions(typeof(Parallelism), $"Threads must be at least 1, got {value}", "Threads");
            _threads = value;
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> for chunk indices 0..chunks-1 on up to <see cref="Threads"/> threads.
    /// Runs inline when one thread or one chunk, so single-thread runs never start the worker team
    /// (<see cref="WorkerTeam"/>: persistent workers that spin briefly between jobs).
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
        var team = Team();
        _inParallel = true;
        try
        {
            // Another thread using the team (a data loader beside training, say) means run inline here.
            if (!team.TryRun(chunks, body))
                for (int i = 0; i < chunks; i++) body(i);
        }
        finally { _inParallel = false; }
    }

    // Below this many floats an elementwise pass is done before a second thread would have started on it.
    private const int MinSliceLength = 1 << 15;

    /// <summary>
    /// Runs <paramref name="body"/>(start, count) over contiguous slices covering [0, <paramref name="length"/>),
    /// one per thread, each starting on a multiple of 16 floats: for elementwise passes over whole activations,
    /// which one core alone runs at well under the memory bandwidth two cores reach.
    /// </summary>
    public static void ForSlices(int length, Action<int, int> body)
    {
        int slices = length >= MinSliceLength && !_inParallel ? _threads : 1;
        if (slices <= 1)
        {
            body(0, length);
            return;
        }
        For(slices, i =>
        {
            int start = SliceStart(length, slices, i), end = SliceStart(length, slices, i + 1);
            body(start, end - start);
        });
    }

    private static int SliceStart(int length, int slices, int i) => i == slices ? length : (int)((long)length * i / slices) & ~15;

    private static WorkerTeam? _team;
    private static readonly object TeamLock = new();

    // The team for the current thread budget, rebuilt when the budget changes.
    private static WorkerTeam Team()
    {
        var team = Volatile.Read(ref _team);
        if (team is not null && team.Size == _threads) return team;
        lock (TeamLock)
        {
            if (_team is null || _team.Size != _threads)
            {
                _team?.Dispose();
                _team = new WorkerTeam(_threads - 1);
            }
            return _team;
        }
    }

    // Worker threads always count as inside a parallel region: what they run never splits again.
    internal static void MarkWorker() => _inParallel = true;

    /// <summary>True on a thread that is running a chunk of <see cref="For"/>.</summary>
    public static bool InParallelRegion => _inParallel;

    [ThreadStatic] private static bool _inParallel;
}
