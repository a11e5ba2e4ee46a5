using Lopper.Tensors;

namespace Lopper.Tests.Graph;

// Lengths no other test rents, so arrays from elsewhere cannot stand in for the ones these tests return.
[Collection(SerialGraphCollection.Name)]
public class BufferPoolTests
{
    [Fact]
    public void AThreadGetsBackItsOwnArrayBeforeOneAnotherThreadReturnedSince()
    {
        // The array this thread wrote is in its core's cache; one the other thread wrote would have to be fetched
        // from there (a shared last-in-first-out stack handed out the other's).
        const int length = 1_234_567;
        var mine = BufferPool.Rent(length);
        BufferPool.Return(mine);
        var theirs = new float[length];
        var t = new Thread(() => BufferPool.Return(theirs));
        t.Start();
        t.Join();
        Assert.Same(mine, BufferPool.Rent(length));
    }

    [Fact]
    public void ArraysBeyondAThreadsShareGoToOtherThreads()
    {
        // A thread keeps a few arrays per length for itself; what it returns beyond those is shared, so arrays
        // rented on one thread and returned on another do not pile up where nobody rents them.
        const int length = 1_234_568;
        var returned = new List<float[]>();
        var t = new Thread(() =>
        {
            for (int i = 0; i < 6; i++) returned.Add(new float[length]);
            foreach (var a in returned) BufferPool.Return(a);
        });
        t.Start();
        t.Join();
        var here = new[] { BufferPool.Rent(length), BufferPool.Rent(length) };
        Assert.All(here, a => Assert.Contains(returned, r => ReferenceEquals(r, a)));
        long misses = BufferPool.Misses;
        var third = BufferPool.Rent(length);
        Assert.Equal(misses + 1, BufferPool.Misses);
        Assert.DoesNotContain(returned, r => ReferenceEquals(r, third));
    }

    [Fact]
    public void ClearAlsoDropsTheArraysThreadsKeptForThemselves()
    {
        const int length = 1_234_569;
        var kept = BufferPool.Rent(length);
        BufferPool.Return(kept);
        BufferPool.Clear();
        Assert.NotSame(kept, BufferPool.Rent(length));
    }
}
