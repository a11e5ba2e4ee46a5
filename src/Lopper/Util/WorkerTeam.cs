using System.Runtime.ExceptionServices;

namespace Lopper;

/// <summary>
/// A fixed team of worker threads that run the chunks of one <see cref="Parallelism.For"/> at a time, with
/// the calling thread taking chunks too.
/// </summary>
/// <remarks>
/// Workers spin for a while after each job before they block, as OpenMP runtimes do. That is what keeps a
/// two-core run at two cores: a thread-pool worker woken for a few milliseconds of work was often placed on
/// the caller's own CPU by the scheduler and time-shared it (measured: two threads over 64 images each took
/// as long as one thread over 128), while a spinning worker holds its CPU between the back-to-back parallel
/// regions of a training step. The spin costs idle CPU time only in the short gaps between jobs.
/// </remarks>
internal sealed class WorkerTeam : IDisposable
{
    // How long a worker spins for the next job before it blocks.
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 500; // 2 ms

    private readonly Thread[] _workers;
    private readonly object _sleep = new();
    private readonly object _run = new();
    private Job? _job;
    private int _generation;
    private int _sleepers;
    private bool _stopping;

    // One call's chunks. A job is never reused, so a worker that wakes late and still holds the previous job
    // finds its chunks all taken and cannot touch the current one.
    private sealed class Job(Action<int> body, int chunks)
    {
        public readonly Action<int> Body = body;
        public readonly int Chunks = chunks;
        public int Next;
        public int Unfinished = chunks;
        public ExceptionDispatchInfo? Error;

        public void TakeChunks()
        {
            int i;
            while ((i = Interlocked.Increment(ref Next) - 1) < Chunks)
            {
                try { Body(i); }
                catch (Exception e) { Interlocked.CompareExchange(ref Error, ExceptionDispatchInfo.Capture(e), null); }
                Interlocked.Decrement(ref Unfinished);
            }
        }
    }

    /// <summary>Starts <paramref name="workers"/> background threads (the caller is the team's other member).</summary>
    public WorkerTeam(int workers)
    {
        _workers = new Thread[workers];
        for (int i = 0; i < workers; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"lopper-worker-{i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>Threads in the team, the caller included.</summary>
    public int Size => _workers.Length + 1;

    /// <summary>
    /// Runs body(0..chunks-1) across the team and returns when all are done; rethrows the first exception a
    /// chunk threw. Returns false without running anything when another thread is using the team.
    /// </summary>
    public bool TryRun(int chunks, Action<int> body)
    {
        if (!Monitor.TryEnter(_run)) return false;
        try
        {
            var job = new Job(body, chunks);
            Volatile.Write(ref _job, job);
            Interlocked.Increment(ref _generation);
            if (Volatile.Read(ref _sleepers) > 0)
                lock (_sleep) Monitor.PulseAll(_sleep);
            job.TakeChunks();
            var wait = new SpinWait();
            while (Volatile.Read(ref job.Unfinished) > 0) wait.SpinOnce(sleep1Threshold: -1);
            job.Error?.Throw();
            return true;
        }
        finally { Monitor.Exit(_run); }
    }

    private void WorkerLoop()
    {
        Parallelism.MarkWorker();
        int seen = Volatile.Read(ref _generation);
        while (true)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && !Volatile.Read(ref _stopping))
            {
                Thread.SpinWait(4);
                if ((++spins & 63) == 0 && System.Diagnostics.Stopwatch.GetTimestamp() - start > SpinTicks) break;
            }
            if (Volatile.Read(ref _generation) == seen && !Volatile.Read(ref _stopping))
            {
                lock (_sleep)
                {
                    Interlocked.Increment(ref _sleepers);
                    while (Volatile.Read(ref _generation) == seen && !_stopping) Monitor.Wait(_sleep);
                    Interlocked.Decrement(ref _sleepers);
                }
            }
            if (Volatile.Read(ref _stopping)) return;
            seen = Volatile.Read(ref _generation);
            Volatile.Read(ref _job)?.TakeChunks();
        }
    }

    /// <summary>Stops the workers (they exit after their current chunk).</summary>
    public void Dispose()
    {
        Volatile.Write(ref _stopping, true);
        lock (_sleep) Monitor.PulseAll(_sleep);
    }
}
