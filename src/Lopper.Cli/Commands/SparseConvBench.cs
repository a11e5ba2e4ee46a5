using System.CommandLine;
using System.Text.Json.Nodes;
using Lopper.Measurement;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper bench sparse-conv`: whether a stride-1 3x3 convolution whose kernel slices W[o, c, :, :] are pruned
/// connection by connection (what SNACS leaves) runs faster through <see cref="SliceSparseConv"/> (each filter over
/// its surviving slices only) than through the dense kernels the op otherwise runs (<see cref="PaddedConv"/>: the
/// direct tiles or the GEMM, as the op picks them for the shape). One image at a time per thread, the images
/// split over --threads, as inference runs them. Also times the position tiles (<see cref="CompactTileConv"/>) on the
/// same weight, the path for filter counts that idle tile lanes. With --pattern columns the weight loses whole kernel
/// columns W[:, c, ky, kx] instead (what SPP leaves), and the sparse time is the kept columns' tap list
/// (<see cref="CompactTileConv.ForwardTaps"/>), the kernel the op runs for such a layer.
/// </summary>
public static class SparseConvBench
{
    private static readonly Option<int> In = Flags.Int("--in", "input channels", 32, 1, valueName: "C");
    private static readonly Option<int> Out = Flags.Int("--out", "output channels", 32, 1, valueName: "O");
    private static readonly Option<int> Hw = Flags.Int("--hw", "image height and width", 14, 1);
    private static readonly Option<double[]?> Sparsity = Flags.Reals("--sparsity", "F,F,...", "fractions of kernel slices (or columns) pruned, each in [0, 1) [default: 0.3,0.5,0.7,0.9]", 0, 1, maxInclusive: false);
    private static readonly Option<int> Batch = Flags.Int("--batch", "images", 64, 1, CommonOptions.MaxBatch, "B");
    private static readonly Option<int> Stride = Flags.Int("--stride", "1, or 2 (a down-sampling layer: every kernel through the input's parity phases)", 1, 1, 2, "S");
    private static readonly Option<bool> WithEpilogue = Flags.Switch("--epilogue", "every kernel also adds a bias and a residual and applies a ReLU on the way out, as inference runs a residual block's second convolution");
    private static readonly Option<string> Pattern = Flags.Choice("--pattern", "slices (W[o, c, :, :] pruned per connection, as SNACS leaves them) or columns (W[:, c, ky, kx] pruned for every filter, as SPP leaves them)", "slices", "columns");

    /// <summary>The subcommand (bench runs it on --threads and prints its result).</summary>
    public static Command Create(Func<ParseResult, Func<ParseResult, JsonObject>, int> measure)
    {
        var cmd = new Command("sparse-conv", "a connection- or column-pruned 3x3 convolution against the dense kernels") { In, Out, Hw, Sparsity, Batch, Stride, Pattern, WithEpilogue };
        cmd.SetAction(parse => measure(parse, Run));
        return cmd;
    }

    private static unsafe JsonObject Run(ParseResult parse)
    {
        int c = parse.GetValue(In), o = parse.GetValue(Out), hw = parse.GetValue(Hw), batch = parse.GetValue(Batch), stride = parse.GetValue(Stride);
        bool columns = parse.GetValue(Pattern) == "columns", relu = parse.GetValue(WithEpilogue);
        var levels = parse.ValueOrNull(Sparsity) ?? [0.3, 0.5, 0.7, 0.9];
        CommonOptions.CheckBufferSize("--in/--out/--hw/--batch", (long)batch * c * hw * hw, (long)o * c * 9, (long)batch * o * hw * hw);
        if (!SliceSparseConv.Supported) throw new LopperInputException("bench sparse-conv: this CPU has no AVX-512, which the slice-sparse kernel needs");
        int depth = c * 9, p = hw * hw, ohw = (hw - 1) / stride + 1, q = ohw * ohw;
        var rng = new Rng(1);
        var x = new float[batch * c * p];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextNormal();
        var w = new float[o * depth];
        var yDense = new float[batch * o * q];
        var ySparse = new float[batch * o * q];
        var yPositions = new float[batch * o * q];
        // The epilogue's bias and residual (null pointers without --epilogue).
        var bias = relu ? Enumerable.Range(0, o).Select(_ => (float)rng.NextNormal()).ToArray() : null;
        var residual = relu ? Enumerable.Range(0, batch * o * q).Select(_ => (float)rng.NextNormal()).ToArray() : null;
        int threads = Parallelism.Threads;
        // Stride 2: phase scratch, zero before each thread's first image (the split writes only where input lands).
        int scratch = stride == 1 ? SliceSparseConv.PaddedLength(c, hw, hw) : SliceSparseConv.PhasedLength(c, ohw, ohw);
        var paddedPer = Enumerable.Range(0, threads).Select(_ => new float[scratch]).ToArray();
        bool direct = stride == 2 || PaddedConv.UsesDirect(hw, hw, 3, o);
        var packed = new float[PaddedConv.PackedLength(o, depth)];
        var rowPointers = Enumerable.Range(0, threads).Select(_ => new nint[depth]).ToArray();
        var results = new JsonArray();
        // Column masks of the output plane (the position tiles' and the tap list's), as the op gets them.
        var masks = CompactTileConv.MasksFor(ohw, ohw);
        foreach (double s in levels)
        {
            // Kept units: slices (o, c) of the weight, or columns (c, ky, kx) shared by every filter.
            int kept = 0, units = columns ? depth : o * c;
            if (columns) Array.Clear(w);
            var keptColumns = new List<int>();
            for (int unit = 0; unit < units; unit++)
            {
                bool keep = rng.NextDouble() >= s;
                kept += keep ? 1 : 0;
                if (columns && keep) keptColumns.Add(unit);
                if (columns) { if (keep) for (int f = 0; f < o; f++) w[f * depth + unit] = (float)rng.NextNormal(); }
                else for (int t = 0; t < 9; t++) w[unit * 9 + t] = keep ? (float)rng.NextNormal() : 0f;
            }
            if (columns && kept == 0)
            {
                // A layer keeps at least one column (SPP never empties a convolution).
                kept = 1;
                keptColumns.Add(0);
                for (int f = 0; f < o; f++) w[f * depth] = (float)rng.NextNormal();
            }
            PaddedConv.PackWeights(w, o, depth, packed);
            // Columns run as the op runs an SPP layer: the kept columns' tap list (CompactTileConv); slices through the
            // slice-sparse kernel.
            var plan = columns ? null : SliceSparseConv.TryPlan(w, o, c, 1.0)!;
            var cols = keptColumns.ToArray();
            var compact = columns ? CompactColumns(w, o, depth, cols) : null;
            var columnPlan = columns ? TapPlan.ForColumns(compact, o, c, cols) : null;
            var accumulatorsPer = Enumerable.Range(0, threads).Select(_ => new float[plan is null ? 0 : SliceSparseConv.AccumulatorLength(plan)]).ToArray();
            // Images split over the threads (each its own scratch), as inference runs them.
            double dense = MedianMs(() => Parallelism.For(threads, t =>
            {
                fixed (float* xp = x, wp = w, kp = packed, yp = yDense, pp = paddedPer[t], bp = bias, sp = residual)
                fixed (nint* rp = rowPointers[t])
                    for (int b = batch * t / threads; b < batch * (t + 1) / threads; b++)
                        if (stride == 2) StridedConv.Forward(xp + (long)b * c * p, c, hw, hw, kp, o, yp + (long)b * o * q, pp, bp, relu, At(sp, b, o * q));
                        else PaddedConv.Forward(xp + (long)b * c * p, c, hw, hw, 3, wp, direct ? kp : null, o, yp + (long)b * o * q, pp, (float**)rp, bp, relu, At(sp, b, o * q));
            }));
            var columnScratch = columns ? Enumerable.Range(0, threads).Select(_ => new float[stride == 1 ? CompactTileConv.GuardedLength(c, hw, hw) : CompactTileConv.PhasedLength(c, ohw, ohw)]).ToArray() : null;
            double sparse = MedianMs(() => Parallelism.For(threads, t =>
            {
                fixed (float* xp = x, yp = ySparse, pp = paddedPer[t], ap = accumulatorsPer[t], cp = columnScratch?[t], mp = masks, bp = bias, sp = residual)
                    for (int b = batch * t / threads; b < batch * (t + 1) / threads; b++)
                        if (columnPlan is not null && stride == 2) CompactTileConv.ForwardTapsStride2(xp + (long)b * c * p, hw, hw, columnPlan, yp + (long)b * o * q, cp, mp, bp, relu, At(sp, b, o * q));
                        else if (columnPlan is not null) CompactTileConv.ForwardTaps(xp + (long)b * c * p, hw, hw, columnPlan, yp + (long)b * o * q, cp, mp, bp, relu, At(sp, b, o * q));
                        else if (stride == 2) SliceSparseConv.ForwardStride2(xp + (long)b * c * p, hw, hw, plan!, yp + (long)b * o * q, pp, ap, bp, relu, At(sp, b, o * q));
                        else SliceSparseConv.Forward(xp + (long)b * c * p, hw, hw, plan!, yp + (long)b * o * q, pp, ap, bp, relu, At(sp, b, o * q));
            }));
            // The position tiles run every slice (no skipping): the dense alternative for widths that idle tile lanes,
            // on the unpadded planes at stride 1 and on their compact parity phases at stride 2 (each thread its own scratch).
            var tiles = stride == 1 ? PositionTileConv.Create(w, o, c) : null;
            var taps = stride == 2 ? TapPlan.ForColumns(w, o, c) : null;
            int tileScratch = stride == 1 ? CompactTileConv.GuardedLength(c, hw, hw) : CompactTileConv.PhasedLength(c, ohw, ohw);
            var guarded = Enumerable.Range(0, threads).Select(_ => new float[tileScratch]).ToArray();
            double positionTiles = MedianMs(() => Parallelism.For(threads, t =>
            {
                fixed (float* xp = x, yp = yPositions, gp = guarded[t], mp = masks, bp = bias, sp = residual)
                    for (int b = batch * t / threads; b < batch * (t + 1) / threads; b++)
                        if (stride == 2) CompactTileConv.ForwardTapsStride2(xp + (long)b * c * p, hw, hw, taps!, yp + (long)b * o * q, gp, mp, bp, relu, At(sp, b, o * q));
                        else CompactTileConv.Forward(xp + (long)b * c * p, hw, hw, tiles!, yp + (long)b * o * q, gp, mp, bp, relu, At(sp, b, o * q));
            }));
            // Columns at stride 1: also the direct tiles over the kept columns only (one depth step each), the
            // op's other path for a column-pruned layer.
            double directColumns = double.NaN;
            float[]? yColumns = null;
            if (columnPlan is not null && stride == 1)
            {
                var packedColumns = new float[PaddedConv.PackedLength(o, keptColumns.Count)];
                PaddedConv.PackWeights(compact!, o, keptColumns.Count, packedColumns);
                yColumns = new float[yDense.Length];
                directColumns = MedianMs(() => Parallelism.For(threads, t =>
                {
                    fixed (float* xp = x, kp = packedColumns, wp = compact, yp = yColumns, pp = paddedPer[t], bp = bias, sp = residual)
                    fixed (nint* rp = rowPointers[t])
                        for (int b = batch * t / threads; b < batch * (t + 1) / threads; b++)
                            PaddedConv.Forward(xp + (long)b * c * p, c, hw, hw, 3, wp, kp, o, yp + (long)b * o * q, pp, (float**)rp, bp, relu, At(sp, b, o * q), cols);
                }));
            }
            float maxDiff = 0;
            for (int i = 0; i < yDense.Length; i++)
                maxDiff = Math.Max(maxDiff, Math.Max(Math.Max(Math.Abs(ySparse[i] - yDense[i]), Math.Abs(yPositions[i] - yDense[i])),
                    yColumns is null ? 0 : Math.Abs(yColumns[i] - yDense[i])));
            results.Add(new JsonObject
            {
                ["sparsity"] = s, [columns ? "columns_kept" : "slices_kept"] = kept, ["dense_ms"] = Math.Round(dense, 3), ["sparse_ms"] = Math.Round(sparse, 3),
                ["position_tiles_ms"] = Math.Round(positionTiles, 3),
                ["direct_columns_ms"] = double.IsNaN(directColumns) ? null : Math.Round(directColumns, 3),
                ["speedup_sparse_over_dense"] = Math.Round(dense / sparse, 3),
                ["speedup_over_mac_reduction"] = Math.Round(dense / sparse * kept / (double)units, 3), ["max_abs_diff"] = maxDiff,
            });
        }
        return new JsonObject
        {
            ["bench"] = "sparse-conv", ["pattern"] = columns ? "columns" : "slices", ["in"] = c, ["out"] = o, ["hw"] = hw, ["kernel"] = 3, ["stride"] = stride, ["batch"] = batch,
            ["epilogue"] = relu,
            ["dense_path"] = stride == 2 ? "direct tiles on parity phases" : direct ? "direct tiles" : "gemm", ["levels"] = results,
        };
    }

    // Image b's residual, or null without --epilogue.
    private static unsafe float* At(float* residual, int b, int perImage) => residual == null ? null : residual + (long)b * perImage;

    // The kept columns of a dense [o, depth] weight, [o, kept] (the layout of a column-pruned convolution's weight).
    private static float[] CompactColumns(float[] w, int o, int depth, int[] kept)
    {
        var compact = new float[o * kept.Length];
        for (int f = 0; f < o; f++)
            for (int j = 0; j < kept.Length; j++) compact[f * kept.Length + j] = w[f * depth + kept[j]];
        return compact;
    }

    // Median milliseconds of 7 timed runs after one untimed (Latency's statistics).
    private static double MedianMs(Action body) => Latency.Time(body, batch: 1, warmup: 1, minRepeats: 7, minSeconds: 0).MedianMs;
}
