// GFLOP/s and GB/s of the depthwise kernel (forward, input gradient, weight gradient) on MobileNet-like layers,
// beside a plain copy of the same bytes (the memory-bound ceiling).
using System.Diagnostics;
using Lopper;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

int[] threadCounts = args.Length > 0 ? args.Select(int.Parse).ToArray() : [1, 2];
DepthwiseGeometry[] layers =
[
    new(128, 96, 1, 16, 16, 3, 1, 1),
    new(128, 144, 1, 32, 32, 3, 1, 1),
    new(128, 144, 1, 32, 32, 3, 2, 1),
    new(128, 576, 1, 8, 8, 3, 1, 1),
    new(128, 960, 1, 4, 4, 3, 1, 1),
    new(128, 96, 1, 16, 16, 5, 1, 2),
];
Console.WriteLine("layer                                         thr  pass     ms   GFLOP/s   GB/s  copy GB/s");
foreach (var g in layers)
{
    var rng = new Rng(1);
    float[] Fill(long n) { var a = new float[n]; for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextNormal(); return a; }
    float[] x = Fill(g.InputLength), w = Fill(g.WeightLength), b = Fill(g.OutChannels), dy = Fill(g.OutputLength);
    float[] y = new float[g.OutputLength], dx = new float[g.InputLength], dw = new float[g.WeightLength], db = new float[g.OutChannels];
    double flops = 2.0 * g.Kernel * g.Kernel * g.OutputLength;
    // Bytes each pass must move at least: its input planes read once and its output planes written once.
    double fwdBytes = 4.0 * (g.InputLength + g.OutputLength), wgBytes = 4.0 * (g.InputLength + g.OutputLength);
    foreach (int t in threadCounts)
    {
        Parallelism.Threads = t;
        double copy = Best(() => Parallelism.ForSlices(x.Length, (s, n) => x.AsSpan(s, n).CopyTo(dx.AsSpan(s, n))));
        double copyGbs = 8.0 * x.Length / copy / 1e9;
        Report(g, t, "fwd", Best(() => DepthwiseConv.Forward(x, w, b, y, g)), flops, fwdBytes, copyGbs);
        Report(g, t, "dx", Best(() => DepthwiseConv.InputGradient(dy, w, dx, g)), flops, fwdBytes, copyGbs);
        Report(g, t, "dw+db", Best(() => DepthwiseConv.WeightGradient(x, dy, dw, db, g)), flops, wgBytes, copyGbs);
    }
}

// Seconds per call: with one thread, the process CPU time per call (what other load on a shared machine
// inflates least); with more, the best wall time of the runs (CPU time would count the workers' spinning).
static double Best(Action a)
{
    a();
    double best = double.MaxValue;
    var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
    const int runs = 15;
    for (int r = 0; r < runs; r++)
    {
        long t0 = Stopwatch.GetTimestamp();
        a();
        best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
    }
    double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds / runs;
    return Parallelism.Threads == 1 ? cpu : best;
}

static void Report(DepthwiseGeometry g, int threads, string pass, double s, double flops, double bytes, double copyGbs) =>
    Console.WriteLine($"{$"[{g.Batch},{g.Channels},{g.Height},{g.Width}] k{g.Kernel} s{g.Stride} p{g.Padding}",-45} {threads,3}  {pass,-5} {s * 1e3,7:F2} {flops / s / 1e9,8:F1} {bytes / s / 1e9,7:F1} {copyGbs,8:F1}");
