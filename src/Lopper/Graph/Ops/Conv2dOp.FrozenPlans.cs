using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

// The positions-in-lanes plans of Conv2dOp for frozen weights (an inference session): where zero kernel slices
// (connection pruning), a kernel-column subset (SPP), zero 1x1 connections or a filter count that idles the direct
// tiles' lanes make a tap list, the slice-sparse lists or the position tiles faster than the dense kernels, each plan
// made once per session and the images run through it, stacked where their planes are small.
public sealed unsafe partial class Conv2dOp
{
    /// <summary>
    /// Largest share of surviving kernel slices at which a frozen 3x3 convolution with 16, 32 or 64 filters runs
    /// through <see cref="SliceSparseConv"/> instead of the dense kernels. Measured with <c>lopper bench sparse-conv</c>
    /// (one Zen 5 core, ResNet-20's stage shapes at full and pruned widths): with 80 % of the slices left it ran
    /// 1.0-1.4x the dense kernels' speed, with 70 % 1.05-1.6x, with 50 % 1.6-1.7x; with all of them 0.76-1.35x.
    /// Other filter counts scale it by the lanes the dense tiles would spend (see <see cref="SliceSparse"/>).
    /// </summary>
    public const double SliceSparseMaxDensity = 0.75;

    // The slice-sparse plan of a frozen 3x3 weight where it beats the dense kernels, made once per session (null:
    // dense). The dense kernels are the direct tiles, which pay for their lanes (filters rounded up to blocks of 16
    // or 32), or for widths that would idle many of those lanes the position tiles, which pay per filter about what
    // the slice-sparse kernel pays per surviving slice; the slice-sparse kernel wins by skipping zero slices. So on
    // full widths and on planes wider than 16 only zeros count; on narrower planes with tiles, a width such as 17 or
    // 33 filters goes slice-sparse even with no slice zero where the position tiles do not take it.
    // (oh, ow: the output plane.)
    private SliceSparseConv.Plan? SliceSparse(float[] weight, NodeState state, int oh, int ow)
    {
        var derived = state.Derived;   // read once: another executor may set it between two reads
        if (derived is SliceSparseConv.Plan kept) return kept;
        if (derived is not null || Kernel != 3 || !SliceSparseConv.Supported) return null;
        double denseCost = ow > 16 || PrefersPositionTiles(oh, ow) ? 1 : UsesDirectTiles(oh, ow) ? (double)PaddedConv.PackedLength(OutChannels, 1) / OutChannels : 1.5;
        var plan = SliceSparseConv.TryPlan(weight.AsSpan(0, OutChannels * K), OutChannels, InChannels, SliceSparseMaxDensity * denseCost);
        return plan is null ? null : state.KeepDerived(plan);
    }

    // Frozen 3x3 weights run the position tiles (CompactTileConv) where their filter count leaves a lane of the direct
    // tiles idle (or the GEMM would take them). Measured with `lopper bench sparse-conv` (one Zen 5 core, batch 8):
    // at stride 1 the position tiles ran 0.96-1.13x the direct tiles at 28, 30, 56 and 60 filters (88-94 % of the
    // lanes) and 1.3-1.6x at 9-12, 21-23 and 45-49; at 16 and 32 filters 1.00-1.06x and at 64 on 7x7 0.94-0.97x, so
    // full widths keep the direct tiles; stems (1 -> 9, 12, 16 on 28x28, 3 -> 11, 16 on 32x32) 1.0-1.8x. At stride 2
    // (compact phases): 12 -> 23 on 28x28 1.17-1.22x, 22 -> 48 on 14x14 1.0-1.1x, 16 -> 32 and 32 -> 64 0.9-1.0x.
    // Up to this many input channels even full widths take the position tiles, the direct tiles' few depth steps
    // leaving their transposed store most of the work: stems (1 -> 16 on 28x28 and 3 -> 16 on 32x32 ran 1.0-1.45x the
    // direct tiles), and the second convolution of a block whose first kept few filters. With 4 (stems only) the grid's
    // BN-slimming cells at 30 % of the MACs ran 2.77-2.89x the dense speed, with 8 2.93-2.99x (their 5-8 -> 16, 32 and
    // 64 layers 10-30 % faster); 12 and 16 gained nothing more. L1 and random filters at 30 % gained 1-3 %, at 50 % and
    // structured gRDA nothing (`lopper latency --batch 128 --threads 2`, 4 and 8 alternating twice per cell, Zen 5).
    // Those layers were all at stride 1; at stride 2 the bound stays at the stems' 4.
    private const int ShallowInChannels = 8, StemInChannels = 4;

    private bool PrefersPositionTiles(int oh, int ow)
    {
        if (Kernel != 3 || !PositionTileConv.Supported) return false;
        return !UsesDirectTiles(oh, ow) || OutChannels < PaddedConv.PackedLength(OutChannels, 1) || InChannels <= (Stride == 1 ? ShallowInChannels : StemInChannels);
    }

    // Whether the dense 3x3 path on an oh x ow output runs the direct tiles (stride 2 always does) rather than the GEMM.
    private bool UsesDirectTiles(int oh, int ow) => Stride == 2 || PaddedConv.UsesDirect(oh, ow, Kernel, OutChannels);

    // The position-tile plan of a frozen 3x3 weight whose filter count would idle the direct tiles' lanes, made once
    // per session (null: the direct tiles or the GEMM): the unrolled dense blocks at stride 1, the tap list over the
    // compact phases at stride 2.
    private object? PositionTiles(float[] weight, NodeState state, int oh, int ow)
    {
        var derived = state.Derived;   // read once: another executor may set it between two reads
        if (derived is PositionTileConv.Plan or TapPlan) return derived;
        if (derived is not null || !PrefersPositionTiles(oh, ow)) return null;
        var dense = weight.AsSpan(0, OutChannels * K);
        return state.KeepDerived(Stride == 1 ? PositionTileConv.Create(dense, OutChannels, InChannels) : (object)TapPlan.ForColumns(dense, OutChannels, InChannels));
    }

    // The Vector256 family's position-tile plan (PositionTileConv256) of a frozen dense 3x3 weight, made once per
    // session, for the narrow layers it runs faster than Winograd and the GEMM on padded rows at stride 1, or than the
    // GEMM over phase rows at stride 2 (there a tap list of every tap over the input's phases; null: those kernels).
    private object? PositionTiles256(float[] weight, NodeState state, int oh, int ow)
    {
        var derived = state.Derived;   // read once: another executor may set it between two reads
        if (derived is PositionTileConv.Plan { Wide: false } or TapPlan { Wide: false }) return derived;
        if (derived is not null || Kernel != 3 || Stride > 2 || PadH != 1 || !IsUniform || !PositionTileConv256.Supported
            || !(Stride == 1 ? PositionTileConv256.Pays(InChannels, OutChannels) : PositionTileConv256.PaysStride2(InChannels, OutChannels))) return null;
        var dense = weight.AsSpan(0, OutChannels * K);
        return state.KeepDerived(Stride == 1 ? PositionTileConv.Create256(dense, OutChannels, InChannels) : (object)TapPlan.ForColumns(dense, OutChannels, InChannels, wide: false));
    }

    // Images [start, end) through PositionTileConv256 (dense blocks or a tap list): scratch cleared once per call, masks
    // once per geometry.
    private void ForwardPositionTiles256(float[] x, object plan, float[]? bias, float[]? residual, float[] y, int start, int end, int h, int w)
    {
        int oh = (h - 1) / Stride + 1, ow = (w - 1) / Stride + 1;
        int length = Stride == 2 ? PositionTileConv256.PhasedLength(InChannels, oh, ow) : PositionTileConv256.GuardedLength(InChannels, h, w);
        var guarded = BufferPool.Rent(length);
        Array.Clear(guarded, 0, length);
        var masks = PositionTileConv256.MasksFor(oh, ow);
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * oh * ow;
        fixed (float* xp = x, yp = y, gp = guarded, mp = masks, bp = bias, rp = residual)
            for (int i = start; i < end; i++)
            {
                float* image = xp + i * inPlane, output = yp + i * outPlane, res = rp == null ? null : rp + i * outPlane;
                switch (plan)
                {
                    case TapPlan taps when Stride == 2: PositionTileConv256.ForwardTapsStride2(image, h, w, taps, output, gp, mp, bp, FusedRelu, res); break;
                    case TapPlan taps: PositionTileConv256.ForwardTaps(image, h, w, taps, output, gp, mp, bp, FusedRelu, res); break;
                    default: PositionTileConv256.Forward(image, h, w, (PositionTileConv.Plan)plan, output, gp, mp, bp, FusedRelu, res); break;
                }
                ClampToReluMax(output, outPlane);
            }
        BufferPool.Return(guarded);
    }

    // The position-tile plan of a frozen kernel-column subset of a 3x3 convolution (padding 1, stride 1 or 2), made
    // once per session: only the kept columns are multiplied, on the unpadded planes or their compact phases. The
    // grid's SPP cell at 50 % of the MACs keeps 13-16, 29-32 and 57-64 filters, which idle direct-tile lanes as
    // filter pruning does. Against the direct tiles over the same kept columns (`lopper bench sparse-conv --pattern
    // columns --sparsity 0.5`, one Zen 5 core, one run each): 1.04-1.68x on 28x28 (16 -> 13-16 and 16 -> 29-32 filters),
    // 0.82-1.22x on 14x14 (32 -> 29-32) and 0.93-1.03x on 7x7 (64 -> 57-64), so every column layer takes the tap list.
    private TapPlan? ColumnTaps(float[] weight, NodeState state)
    {
        var derived = state.Derived;   // read once: another executor may set it between two reads
        if (derived is TapPlan kept) return kept;
        if (derived is not null || Columns is null || !IsUniform || Kernel != 3 || Stride > 2 || PadH != 1) return null;
        // AVX2 parts take their own tap lists (PositionTileConv256): one-epoch ResNet-20s with SPP at half the MACs ran
        // 0.93x the dense speed through im2col + GEMM over the kept columns, 1.44-1.55x through them.
        bool wide = CompactTileConv.Supported;
        if (!wide && !PositionTileConv256.Supported) return null;
        return state.KeepDerived(TapPlan.ForColumns(weight.AsSpan(0, OutChannels * K), OutChannels, InChannels, Columns, wide));
    }

    /// <summary>
    /// How many times slower per multiplied kernel slice the slice-sparse kernel (<see cref="SliceSparseConv"/>) runs
    /// than the position tiles' tap blocks (<see cref="CompactTileConv"/>) inside a model at two threads. On the grid's
    /// SNACS cells (`lopper latency --batch 128 --threads 2`, three rounds) with this set to 0.5, 1.25, 2.5 and 10: at
    /// 50 % of the MACs 1.01-1.25x, 1.22-1.26x, 1.22-1.29x and 1.30x the dense speed, at 30 % 1.42-1.52x,
    /// 1.54-1.78x, 1.69-1.88x and 1.69-1.86x. (Alone on one thread the two kernels ran 1.2-1.5x apart.)
    /// </summary>
    public const double SliceSparseCostPerSlice = 3.0;

    // A frozen 3x3 weight (stride 1 or 2) with zero kernel slices (connection pruning, SNACS) as register blocks of filters
    // that read the same input channels (TapPlan.ForSlices): SNACS prunes connections in groups of filters, so blocks
    // of equal channel sets compute few zero slices. Taken where it multiplies less than the dense weight and costs
    // less than the slice-sparse kernel, which multiplies only the kept slices but each more slowly.
    private TapPlan? SliceTaps(float[] weight, NodeState state, int w)
    {
        var derived = state.Derived;   // read once: another executor may set it between two reads
        if (derived is TapPlan kept) return kept;
        if (derived is not null || Kernel != 3 || Stride > 2 || Columns is not null) return null;
        if (!CompactTileConv.Supported)
        {
            // AVX2 parts: stride 1 only, against the dense kernel the layer would run (PositionTileConv256.TapListPays).
            if (Stride != 1 || PadH != 1 || !IsUniform || !PositionTileConv256.Supported) return null;
            var narrow = TapPlan.ForSlices(weight.AsSpan(0, OutChannels * K), OutChannels, InChannels, wide: false);
            return narrow.KeptShare < 1 && PositionTileConv256.TapListPays(narrow.CostShare, InChannels, OutChannels, w) ? state.KeepDerived(narrow) : null;
        }
        var plan = TapPlan.ForSlices(weight.AsSpan(0, OutChannels * K), OutChannels, InChannels);
        if (plan.KeptShare >= 1 || plan.CostShare > 0.95) return null;
        if (plan.KeptShare <= SliceSparseMaxDensity && plan.KeptShare * SliceSparseCostPerSlice < plan.CostShare) return null;
        return state.KeepDerived(plan);
    }

    // A frozen weight's Winograd transform, with the direct tiles' packing (null: the GEMM over padded rows) for
    // calls with too few tiles to fill the GEMM panels.
    private sealed record WinogradLayer(WinogradConv.Plan Plan, float[]? Direct);

    // A frozen dense 3x3 weight at stride 1 wide enough that Winograd's F(2x2, 3x3) (WinogradConv) beats the direct
    // tiles, made once per session.
    private WinogradLayer? Winograd(float[] weight, NodeState state, int h, int w)
    {
        var derived = state.Derived;   // read once: another executor may set it between two reads
        if (derived is WinogradLayer kept) return kept;
        if (derived is not null || Kernel != 3 || Stride != 1 || PadH != 1 || !IsUniform || Columns is not null) return null;
        if (!WinogradConv.Pays(InChannels, OutChannels, h, w)) return null;
        var plan = WinogradConv.Prepare(weight.AsSpan(0, OutChannels * K), OutChannels, InChannels);
        return state.KeepDerived(new WinogradLayer(plan, PackForDirect(weight, OutChannels, K, h, w, keep: true)));
    }

    // Whether a call on n images runs Winograd: each thread's share of the tiles fills two GEMM panels. Fewer, and
    // reading the transformed weight (16/9 of the weight) costs more than it saves: at batch 1 on two threads vgg-small
    // ran 811-837 images/s with its 14x14 and 7x7 layers through Winograd (24 and 8 tiles a thread), 980-1001 on the
    // direct tiles; ResNet-56 3x32 1.10-1.11x ONNX Runtime's speed with its 16x16 layers' 32 tiles a thread through
    // Winograd, 1.16-1.19x on the direct tiles (one panel, then two, as the bound).
    private static bool WinogradFills(int n, int h, int w)
    {
        int rows = WinogradConv.TileRows(n, h);
        return (long)rows * ((w + 1) / 2) >= (long)WinogradConv.MinTiles * WinogradParts(rows);
    }

    // How many threads share a call's tile rows: one inside a parallel region (split-batch inference hands each thread
    // its own sub-batch), else all of them.
    private static int WinogradParts(int rows) => Parallelism.InParallelRegion ? 1 : Math.Min(Parallelism.Threads, rows);

    private bool IsOneByOne => IsUniform && KernelH == 1 && PadH == 0 && Columns is null && Stride <= 2;

    /// <summary>
    /// Largest <see cref="TapPlan.CostShare"/> at which a frozen 1x1 weight with zero connections runs as a tap list
    /// rather than dense (the GEMM, or the projection shortcut's direct tiles).
    /// </summary>
    public const double PointwiseTapsMaxCost = 0.7;

    // The slot value of a 1x1 weight that runs dense and keeps nothing else there (the GEMM path): the tap-list
    // decision is made once per session.
    private static readonly object DensePointwise = new();

    // A frozen 1x1 weight (stride 1 or 2, no padding) with zero connections (SNACS prunes them too) as the centre taps
    // of a 3x3 tap list over the unpadded planes or the compact parity phases (a 1x1 stride-2 convolution reads phase
    // (0, 0), the centre tap's): its blocks multiply only the channels their filters read. Dense, a third of the
    // connections of ResNet-20's shortcuts took as long as all of them.
    private TapPlan? PointwiseTaps(float[] weight, NodeState state, int oh, int ow)
    {
        var derived = state.Derived;   // read once: another executor may set it between two reads
        if (derived is TapPlan kept) return kept;
        if (derived is not null || !CompactTileConv.Supported) return null;
        if (weight.AsSpan(0, OutChannels * InChannels).IndexOf(0f) < 0) return Dense();   // nothing pruned (-0 counts as 0 here)
        var centred = new float[OutChannels * InChannels * 9];
        for (int o = 0; o < OutChannels; o++)
            for (int c = 0; c < InChannels; c++) centred[(o * InChannels + c) * 9 + 4] = weight[o * InChannels + c];
        var plan = TapPlan.ForSlices(centred, OutChannels, InChannels);
        return plan.KeptShare < 1 && plan.CostShare <= PointwiseTapsMaxCost ? state.KeepDerived(plan) : Dense();

        // The shortcut's direct tiles keep their packing in the slot; the GEMM keeps nothing, so mark the decision.
        TapPlan? Dense()
        {
            if (!UsesStridedPointwise(oh, ow)) state.KeepDerived(DensePointwise);
            return null;
        }
    }

    // All n images through WinogradConv, the tile rows of all of them split evenly between the threads (by rows, not
    // images: at batch 1 a split by images would leave a thread idle).
    private void ForwardWinograd(float[] x, WinogradConv.Plan plan, float[]? bias, float[]? residual, float[] y, int n, int h, int w)
    {
        RunWinograd(x, plan, bias, residual, FusedRelu, y, n, h, w);
        long outImage = (long)OutChannels * h * w;
        fixed (float* yp = y)
            for (int i = 0; i < n; i++) ClampToReluMax(yp + i * outImage, outImage);
    }

    private static void RunWinograd(float[] x, WinogradConv.Plan plan, float[]? bias, float[]? residual, bool relu, float[] y, int n, int h, int w)
    {
        int rows = WinogradConv.TileRows(n, h), parts = WinogradParts(rows);
        Parallelism.For(parts, part =>
        {
            var (first, end) = Range(rows, parts, part);
            fixed (float* xp = x, yp = y, bp = bias, rp = residual)
                WinogradConv.Forward(xp, n, h, w, plan, yp, bp, relu, rp, first, end);
        });
    }

    // Whether training runs a stride-1 3x3 layer's product from `inC` to `outC` channels (the forward, or the input
    // gradient with the channels swapped) through Winograd for a call of n images: on the Vector256 family (AVX2 parts)
    // where inference would. The weights move every step, so the transform is made per call (16/9 of the weight, against
    // a batch's work); on AVX-512 parts training keeps the direct tiles (Winograd there is unmeasured in training).
    internal bool TrainsWinograd(int inC, int outC, int n, int h, int w) =>
        !WinogradConv.Wide && Kernel == 3 && Stride == 1 && PadH == 1 && IsUniform && Columns is null
        && WinogradConv.Pays(inC, outC, h, w) && WinogradFills(n, h, w);

    // The training forward through a per-call Winograd transform of the weight.
    private void ForwardWinogradTraining(float[] x, float[] weight, float[]? bias, float[]? residual, float[] y, int n, int h, int w)
    {
        var plan = WinogradConv.PreparePooled(weight.AsSpan(0, OutChannels * K), OutChannels, InChannels);
        ForwardWinograd(x, plan, bias, residual, y, n, h, w);
        WinogradConv.Release(plan);
    }

    // The input gradient of a stride-1 3x3 layer through Winograd: the same convolution of the output gradient with the
    // weight flipped and transposed (PaddedConv.FlipTranspose), transformed per call.
    private void InputGradientWinograd(float[] gradOut, float[] weight, float[] dx, int n, int h, int w)
    {
        var flipped = BufferPool.Rent(OutChannels * K);
        PaddedConv.FlipTranspose(weight, OutChannels, InChannels, Kernel, flipped);
        var plan = WinogradConv.PreparePooled(flipped.AsSpan(0, OutChannels * K), InChannels, OutChannels);
        BufferPool.Return(flipped);
        RunWinograd(gradOut, plan, null, null, false, dx, n, h, w);
        WinogradConv.Release(plan);
    }

    // Images [start, end) through a positions-in-lanes plan: SliceSparseConv (stride 1, or 2 through its padded
    // parity phases), PositionTileConv's dense blocks (stride 1) or a TapPlan (stride 1, or 2 through compact
    // phases); bias, residual and fused ReLU included.
    private void ForwardPitched(float[] x, object plan, float[]? bias, float[]? residual, float[] y, int start, int end, int h, int w, int oh, int ow)
    {
        if (plan is PositionTileConv.Plan { Wide: false } or TapPlan { Wide: false })
        {
            ForwardPositionTiles256(x, plan, bias, residual, y, start, end, h, w);
            return;
        }
        bool stride2 = Stride == 2;
        var sparse = plan as SliceSparseConv.Plan;
        var tiles = plan as PositionTileConv.Plan;
        var taps = plan as TapPlan;
        // Small planes of several images run stacked into one (the position tiles only).
        int stack = sparse is null ? Math.Min(CompactTileConv.StackedImages(oh, ow), end - start) : 1;
        if (stack > 1)
        {
            ForwardStacked(x, plan, bias, residual, y, start, end, h, w, oh, ow, stack);
            return;
        }
        // The position tiles run on the unpadded planes or their compact phases (CompactTileConv): scratch cleared
        // once per call, masks once per geometry.
        bool compact = sparse is null;
        int scratch = !compact ? (stride2 ? SliceSparseConv.PhasedLength(InChannels, oh, ow) : SliceSparseConv.PaddedLength(InChannels, h, w))
            : stride2 ? CompactTileConv.PhasedLength(InChannels, oh, ow) : CompactTileConv.GuardedLength(InChannels, h, w);
        var padded = BufferPool.Rent(scratch);
        if (stride2 || compact) Array.Clear(padded, 0, scratch);
        float[]? accumulators = sparse is null ? null : BufferPool.Rent(SliceSparseConv.AccumulatorLength(sparse));
        float[]? masks = compact ? CompactTileConv.MasksFor(oh, ow) : null;
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * oh * ow;
        fixed (float* xp = x, yp = y, pp = padded, ap = accumulators, bp = bias, rp = residual, mp = masks)
        {
            for (int i = start; i < end; i++)
            {
                float* image = xp + i * inPlane, output = yp + i * outPlane, res = rp == null ? null : rp + i * outPlane;
                if (sparse is not null && stride2) SliceSparseConv.ForwardStride2(image, h, w, sparse, output, pp, ap, bp, FusedRelu, res);
                else if (sparse is not null) SliceSparseConv.Forward(image, h, w, sparse, output, pp, ap, bp, FusedRelu, res);
                else if (taps is not null && stride2) CompactTileConv.ForwardTapsStride2(image, h, w, taps, output, pp, mp, bp, FusedRelu, res);
                else if (taps is not null) CompactTileConv.ForwardTaps(image, h, w, taps, output, pp, mp, bp, FusedRelu, res);
                else CompactTileConv.Forward(image, h, w, tiles!, output, pp, mp, bp, FusedRelu, res);
                ClampToReluMax(output, outPlane);
            }
        }
        if (accumulators is not null) BufferPool.Return(accumulators);
        BufferPool.Return(padded);
    }

    // Images [start, end) through the position tiles (dense blocks, or a tap list at stride 1 or 2) in stacks of up to
    // `stack` images (CompactTileConv.ForwardStacked and its tap-list forms); the scratch is cleared again whenever the
    // stack's size changes (its guards and separator rows move).
    private void ForwardStacked(float[] x, object plan, float[]? bias, float[]? residual, float[] y, int start, int end, int h, int w, int oh, int ow, int stack)
    {
        var tiles = plan as PositionTileConv.Plan;
        var taps = plan as TapPlan;
        bool stride2 = Stride == 2;
        int Length(int images) => stride2 ? CompactTileConv.PhasedStackedLength(InChannels, images, oh, ow) : CompactTileConv.StackedLength(InChannels, images, h, w);
        var scratch = BufferPool.Rent(Length(stack));
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * oh * ow;
        int cleared = 0;
        float[]? masks = null;
        fixed (float* xp = x, yp = y, sp = scratch, bp = bias, rp = residual)
            for (int i = start; i < end; i += stack)
            {
                int images = Math.Min(stack, end - i);
                if (images != cleared)
                {
                    Array.Clear(scratch, 0, Length(images));
                    masks = CompactTileConv.StackedMasks(images, oh, ow);
                    cleared = images;
                }
                float* image = xp + i * inPlane, output = yp + i * outPlane, res = rp == null ? null : rp + i * outPlane;
                fixed (float* mp = masks)
                {
                    if (taps is not null && stride2) CompactTileConv.ForwardTapsStride2Stacked(image, inPlane, images, h, w, taps, output, outPlane, sp, mp, bp, FusedRelu, res);
                    else if (taps is not null) CompactTileConv.ForwardTapsStacked(image, inPlane, images, h, w, taps, output, outPlane, sp, mp, bp, FusedRelu, res);
                    else CompactTileConv.ForwardStacked(image, inPlane, images, h, w, tiles!, output, outPlane, sp, mp, bp, FusedRelu, res);
                }
                ClampToReluMax(output, images * outPlane);
            }
        BufferPool.Return(scratch);
    }
}
