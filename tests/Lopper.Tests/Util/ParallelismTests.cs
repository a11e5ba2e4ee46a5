using Lopper.Tests.Graph;

namespace Lopper.Tests.Util;

[Collection(SerialGraphCollection.Name)]
public class ParallelismTests
{
    [Fact]
    public void EveryChunkRunsExactlyOnceAcrossManyJobs()
    {
        using (new ThreadsScope(3))
        {
            for (int job = 0; job < 2000; job++)
            {
                int chunks = 1 + job % 7;
                var hits = new int[chunks];
                Parallelism.For(chunks, i => Interlocked.Increment(ref hits[i]));
                Assert.All(hits, h => Assert.Equal(1, h));
            }
        }
    }

    [Fact]
    public void ChunksRunOnMoreThanOneThread()
    {
        // A team of its own: the shared one may be held by another test's thread, and a caller that finds it
        // busy runs its chunks inline (by design), which this barrier would wait on forever.
        using var team = new WorkerTeam(1);
        var threads = new HashSet<int>();
        // Each chunk waits until both have started, which only happens if two threads run them.
        using var barrier = new Barrier(2);
        Assert.True(team.TryRun(2, _ =>
        {
            lock (threads) threads.Add(Environment.CurrentManagedThreadId);
            Assert.True(barrier.SignalAndWait(TimeSpan.FromSeconds(10)));
        }));
        Assert.Equal(2, threads.Count);
    }

    [Fact]
    public void FirstExceptionIsRethrownUnwrappedAfterAllChunksFinish()
    {
        using (new ThreadsScope(2))
        {
            int finished = 0;
            var e = Assert.Throws<LopperInputException>(() => Parallelism.For(8, i =>
            {
                if (i == 3) throw new LopperInputException("chunk 3 failed");
                Interlocked.Increment(ref finished);
            }));
            Assert.Equal("chunk 3 failed", e.Message);
            Assert.Equal(7, finished);
            // The team still works afterwards.
            int sum = 0;
            Parallelism.For(4, i => Interlocked.Add(ref sum, i));
            Assert.Equal(6, sum);
        }
    }

    [Fact]
    public void NestedAndConcurrentCallsRunInlineAndComplete()
    {
        using (new ThreadsScope(2))
        {
            int inner = 0;
            Parallelism.For(4, _ =>
            {
                Assert.True(Parallelism.InParallelRegion);
                Parallelism.For(5, _ => Interlocked.Increment(ref inner));
            });
            Assert.Equal(20, inner);
            Assert.False(Parallelism.InParallelRegion);

            // Two outside threads at once: one gets the team, the other runs its chunks itself.
            int total = 0;
            var callers = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
            {
                for (int j = 0; j < 500; j++) Parallelism.For(3, _ => Interlocked.Increment(ref total));
            })).ToArray();
            foreach (var t in callers) t.Start();
            foreach (var t in callers) Assert.True(t.Join(TimeSpan.FromSeconds(60)));
            Assert.Equal(2 * 500 * 3, total);
        }
    }

    [Theory]
    [InlineData(1, 100_000)]
    [InlineData(3, 100_003)]
    [InlineData(3, 1000)]      // too short to split: one slice
    [InlineData(2, 0)]
    public void SlicesCoverTheRangeOnceOnVectorBoundaries(int threads, int length)
    {
        using (new ThreadsScope(threads))
        {
            var hits = new int[length];
            var starts = new System.Collections.Concurrent.ConcurrentBag<int>();
            Parallelism.ForSlices(length, (start, count) =>
            {
                starts.Add(start);
                for (int i = start; i < start + count; i++) hits[i]++;
            });
            Assert.All(hits, h => Assert.Equal(1, h));
            Assert.All(starts, s => Assert.Equal(0, s % 16));
            Assert.Equal(length >= 1 << 15 ? threads : 1, starts.Count);
        }
    }
}
