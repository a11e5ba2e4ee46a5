using System.Diagnostics;
using Lopper.Graph;
using Lopper.Tensors;

namespace Lopper.Measurement;

/// <summary>Wall-clock time of one inference forward pass: median and quartiles over repeats.</summary>
/// <param name="Batch">Batch size.</param>
/// <param name="MedianMs">Median milliseconds per batch.</param>
/// <param name="Q1Ms">First quartile.</param>
/// <param name="Q3Ms">Third quartile.</param>
/// <param name="Repeats">Timed repeats.</param>
public sealed record LatencyResult(int Batch, double MedianMs, double Q1Ms, double Q3Ms, int Repeats)
{
    /// <summary>Interquartile range in milliseconds.</summary>
    public double IqrMs => Q3Ms - Q1Ms;
}

/// <summary>Times inference of a model on random input after warm-up.</summary>
public static class Latency
{
    /// <summary>
    /// Times the deployment form of the model (batch-norm folded, ReLU fused; see
    /// <see cref="InferenceFolding"/>) unless <paramref name="fold"/> is false, run as deployed inference runs:
    /// sub-batches that threads take whole (<see cref="SplitBatchInference"/>).
    /// Runs <paramref name="warmup"/> untimed passes, then repeats until both <paramref name="minRepeats"/>
    /// passes and <paramref name="minSeconds"/> have elapsed (capped at 200 passes).
    /// </summary>
    public static LatencyResult Measure(Model model, int batch, int warmup = 3, int minRepeats = 10, double minSeconds = 1.0, bool fold = true)
    {
        if (fold) model = InferenceFolding.Fold(model);
        var x = new Tensor([batch, .. model.Graph.InputShape]);
        var rng = new Rng(1);
        for (int i = 0; i < x.Length; i++) x.Data[i] = (float)rng.NextNormal();
        var run = new SplitBatchInference(model);
        return Time(() => run.Forward(x).Release(), batch, warmup, minRepeats, minSeconds);
    }

    /// <summary>
    /// The statistics of <see cref="Measure"/> for any forward pass (another runtime's, for example):
    /// <paramref name="warmup"/> untimed calls, then timed calls until both <paramref name="minRepeats"/> and
    /// <paramref name="minSeconds"/> are reached (at most 200); median and quartiles.
    /// </summary>
    public static LatencyResult Time(Action forward, int batch, int warmup = 3, int minRepeats = 10, double minSeconds = 1.0)
    {
        for (int i = 0; i < warmup; i++) forward();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while ((times.Count < minRepeats || total.Elapsed.TotalSeconds < minSeconds) && times.Count < 200)
        {
            var sw = Stopwatch.StartNew();
            forward();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return new LatencyResult(batch, Quantile(times, 0.5), Quantile(times, 0.25), Quantile(times, 0.75), times.Count);
    }

    private static double Quantile(List<double> sorted, double q)
    {
        double pos = q * (sorted.Count - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}
