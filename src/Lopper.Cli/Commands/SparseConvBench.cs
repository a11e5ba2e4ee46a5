using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper bench sparse-conv`: whether a convolution whose kernel slices W[o, c, :, :] are pruned connection by
/// connection runs faster with a sparse path than dense. Both paths share the im2col unfold; dense multiplies the
/// full [O, C·k·k] weight by it with the packed GEMM, sparse walks each filter's surviving slices (row-sparse,
/// k·k axpys of the unfolded rows per kept connection). Single image at a time, as the conv op does.
/// </summary>
public static class SparseConvBench
{
    private static readonly Option<int> In = Flags.Int("--in", "input channels", 256, 1, valueName: "C");
    private static readonly Option<int> Out = Flags.Int("--out", "output channels", 256, 1, valueName: "O");
    private static readonly Option<int> Hw = Flags.Int("--hw", "image height and width", 8, 1);
    private static readonly Option<int> Kernel = Flags.Int("--kernel", "kernel size", 3, 1, valueName: "K");
    private static readonly Option<double[]?> Sparsity = Flags.Reals("--sparsity", "F,F,...", "fractions of connections pruned, each in [0, 1) [default: 0.5,0.8,0.9,0.95]", 0, 1, maxInclusive: false);
    private static readonly Option<int> Batch = Flags.Int("--batch", "images", 32, 1, CommonOptions.MaxBatch, "B");

    /// <summary>The subcommand (bench runs it on --threads and prints its result).</summary>
    public static Command Create(Func<ParseResult, Func<ParseResult, JsonObject>, int> measure)
    {
        var cmd = new Command("sparse-conv", "a connection-sparse convolution against the dense one (im2col + GEMM)") { In, Out, Hw, Kernel, Sparsity, Batch };
        cmd.SetAction(parse => measure(parse, Run));
        return cmd;
    }

    private static unsafe JsonObject Run(ParseResult parse)
    {
        int c = parse.GetValue(In), o = parse.GetValue(Out), hw = parse.GetValue(Hw), k = parse.GetValue(Kernel), batch = parse.GetValue(Batch);
        var levels = parse.ValueOrNull(Sparsity) ?? [0.5, 0.8, 0.9, 0.95];
        CommonOptions.CheckBufferSize("--in/--out/--hw/--kernel/--batch", (long)batch * c * hw * hw, (long)o * c * k * k, (long)c * k * k * hw * hw);
        int pad = k / 2, p = hw * hw, rows = c * k * k;
        var rng = new Rng(1);
        var x = new float[batch * c * p];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextNormal();
        var w = new float[o * rows];
        var y = new float[o * p];
        var cols = new float[rows * p];
        var results = new JsonArray();
        foreach (double s in levels)
        {
            var keep = new bool[o * c];
            for (int i = 0; i < keep.Length; i++) keep[i] = rng.NextDouble() >= s;
            for (int f = 0; f < o; f++)
                for (int ch = 0; ch < c; ch++)
                    for (int t = 0; t < k * k; t++) w[f * rows + ch * k * k + t] = keep[f * c + ch] ? (float)rng.NextNormal() : 0f;
            // Row-sparse form: per filter, the surviving slices' channel indices.
            var kept = Enumerable.Range(0, o).Select(f => Enumerable.Range(0, c).Where(ch => keep[f * c + ch]).ToArray()).ToArray();
            double Time(Action body)
            {
                body();
                var times = new List<double>();
                for (int r = 0; r < 5; r++) { var sw = Stopwatch.StartNew(); body(); times.Add(sw.Elapsed.TotalMilliseconds); }
                times.Sort();
                return times[2];
            }
            float maxDiff = 0;
            double dense = Time(() =>
            {
                fixed (float* px = x, pw = w, py = y, pc = cols)
                    for (int b = 0; b < batch; b++)
                    {
                        Im2Col.Unfold(px + (long)b * c * p, c, hw, hw, k, k, 1, pad, hw, hw, pc);
                        Gemm.Multiply(false, false, o, p, rows, pw, rows, pc, p, py, p, false);
                    }
            });
            var yDense = (float[])y.Clone();
            double sparse = Time(() =>
            {
                fixed (float* px = x, pc = cols)
                    for (int b = 0; b < batch; b++)
                    {
                        Im2Col.Unfold(px + (long)b * c * p, c, hw, hw, k, k, 1, pad, hw, hw, pc);
                        for (int f = 0; f < o; f++)
                        {
                            var yr = y.AsSpan(f * p, p);
                            yr.Clear();
                            foreach (int ch in kept[f])
                                for (int t = 0; t < k * k; t++)
                                {
                                    int r = ch * k * k + t;
                                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(cols.AsSpan(r * p, p), w[f * rows + r], yr, yr);
                                }
                        }
                    }
            });
            for (int i = 0; i < y.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(y[i] - yDense[i]));
            results.Add(new JsonObject
            {
                ["sparsity"] = s, ["dense_ms"] = Math.Round(dense, 3), ["sparse_ms"] = Math.Round(sparse, 3),
                ["speedup_sparse_over_dense"] = Math.Round(dense / sparse, 3), ["max_abs_diff"] = maxDiff,
            });
        }
        return new JsonObject { ["bench"] = "sparse-conv", ["in"] = c, ["out"] = o, ["hw"] = hw, ["kernel"] = k, ["batch"] = batch, ["levels"] = results };
    }
}
