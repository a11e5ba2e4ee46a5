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

/// <summary>Two models timed in alternation (<see cref="Latency.MeasurePair"/>).</summary>
/// <param name="First">The first model's times.</param>
/// <param name="Second">The second model's times.</param>
/// <param name="MedianRatio">Median over pairs of the first's time over the second's: the second's speed-up.</param>
public sealed record LatencyPair(LatencyResult First, LatencyResult Second, double MedianRatio);

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
    public static LatencyResult Measure(Model model, int batch, int warmup = 3, int minRepeats = 10, double minSeconds = 1.0, bool fold = true) =>
        Time(Forward(model, batch, fold), batch, warmup, minRepeats, minSeconds);

    /// <summary>
    /// Times two models (a dense source and its pruned form, say) in alternation, pass for pass, as
    /// <see cref="Measure"/> times one: a slow spell of a shared machine lasting longer than one pair then slows both
    /// sides alike, where timing one model after the other lets it land on one side only.
    /// <see cref="LatencyPair.MedianRatio"/> is the median over pairs of first time / second time.
    /// </summary>
    public static LatencyPair MeasurePair(Model first, Model second, int batch, int warmup = 3, int minPairs = 10, double minSeconds = 2.0, bool fold = true) =>
        TimePair(Forward(first, batch, fold), Forward(second, batch, fold), batch, warmup, minPairs, minSeconds);

    /// <summary>The statistics of <see cref="MeasurePair"/> for any two forward passes (at most 200 pairs).</summary>
    public static LatencyPair TimePair(Action first, Action second, int batch, int warmup = 3, int minPairs = 10, double minSeconds = 2.0)
    {
        for (int i = 0; i < warmup; i++) { first(); second(); }
        var a = new List<double>();
        var b = new List<double>();
        var ratios = new List<double>();
        var total = Stopwatch.StartNew();
        while ((a.Count < minPairs || total.Elapsed.TotalSeconds < minSeconds) && a.Count < 200)
        {
            var sw = Stopwatch.StartNew();
            first();
            double ta = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            second();
            double tb = sw.Elapsed.TotalMilliseconds;
            a.Add(ta);
            b.Add(tb);
            ratios.Add(ta / tb);
        }
        ratios.Sort();
        return new LatencyPair(Summary(a, batch), Summary(b, batch), Quantile(ratios, 0.5));
    }

    // The deployment forward pass on seeded normal input, ready to be timed.
    private static Action Forward(Model model, int batch, bool fold)
    {
        var (_, run, x) = Deployment(model, batch, fold);
        return () => run.Forward(x).Release();
    }

    // The model as deployment runs it (folded unless told not to, split-batch) and a seeded normal batch for it.
    internal static (Model Model, SplitBatchInference Run, Tensor Input) Deployment(Model model, int batch, bool fold = true)
    {
        if (fold) model = InferenceFolding.Fold(model);
        var x = new Tensor([batch, .. model.Graph.InputShape]);
        var rng = new Rng(1);
        for (int i = 0; i < x.Length; i++) x.Data[i] = (float)rng.NextNormal();
        return (model, new SplitBatchInference(model), x);
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
        return Summary(times, batch);
    }

    private static LatencyResult Summary(List<double> times, int batch)
    {
        times.Sort();
        return new LatencyResult(batch, Quantile(times, 0.5), Quantile(times, 0.25), Quantile(times, 0.75), times.Count);
    }

    // The q-quantile of sorted values, interpolated between neighbours (q = 0.5: the median, the mean of the middle two
    // for an even count).
    internal static double Quantile(IReadOnlyList<double> sorted, double q)
    {
        double pos = q * (sorted.Count - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}
