using Lopper.Measurement;

namespace Lopper.Tests.Measurement;

public class LatencyPairTests
{
    // The point of pairing is the order of the passes: one of each, in turn, so a slow spell of the machine falls on
    // both sides alike. No time is compared here (timing belongs in the benchmark).
    [Fact]
    public void PassesAlternateAndEachSideCountsItsOwnPasses()
    {
        var calls = new List<char>();
        var pair = Latency.TimePair(() => calls.Add('a'), () => calls.Add('b'), batch: 4, warmup: 2, minPairs: 7, minSeconds: 0);
        Assert.Equal(2 * (2 + 7), calls.Count);
        for (int i = 0; i < calls.Count; i++) Assert.Equal(i % 2 == 0 ? 'a' : 'b', calls[i]);
        Assert.Equal(7, pair.First.Repeats);
        Assert.Equal(7, pair.Second.Repeats);
        Assert.Equal(4, pair.First.Batch);
        Assert.True(pair.First.Q1Ms <= pair.First.MedianMs && pair.First.MedianMs <= pair.First.Q3Ms);
    }
}
