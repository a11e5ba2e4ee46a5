using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>
/// 2-D convolution as im2col + GEMM per image. The kernel may be rectangular (<see cref="KernelH"/> x <see cref="KernelW"/>,
/// with per-axis padding, as Inception's 1x7 and 7x1 convolutions); the tuned fast paths (PaddedConv, StridedConv,
/// the depthwise kernel) take only square kernels with equal padding, everything else runs on the im2col GEMM.
/// Grouped, depthwise and dilated convolutions
/// (<see cref="Groups"/> or <see cref="Dilation"/> not 1) take their own path (GroupedConv.cs); everything
/// below describes the dense path. Batches at
/// least as large as the thread budget are split over threads by image; smaller ones let the GEMM
/// split instead. With <see cref="Columns"/> the op keeps only those im2col rows (input channel, ky, kx):
/// the weight is [out, columns] and the GEMM's inner dimension shrinks with it, so pruned kernel
/// columns cost nothing. With <see cref="AddsResidual"/> (made by inference folding) a second input of the
/// output's shape is added before the ReLU, so a residual join costs no pass of its own.
/// </summary>
public sealed unsafe partial class Conv2dOp(int inChannels, int outChannels, int kernel, int stride, int padding, bool bias, int[]? columns = null, bool relu = false, bool residual = false, int groups = 1, int dilation = 1, int kernelW = 0, int paddingW = -1, float reluMax = float.PositiveInfinity) : Op
{
    /// <summary>Input channels.</summary>
    public int InChannels { get; } = inChannels;
    /// <summary>Output channels (filters).</summary>
    public int OutChannels { get; } = outChannels;
    /// <summary>Kernel height.</summary>
    public int KernelH { get; } = kernel;
    /// <summary>Kernel width (the constructor's kernelW, or the height when that is 0).</summary>
    public int KernelW { get; } = ValidKernelW(kernelW, kernel);
    /// <summary>Stride (the same along both axes).</summary>
    public int Stride { get; } = stride;
    /// <summary>Zero padding above and below.</summary>
    public int PadH { get; } = padding;
    /// <summary>Zero padding left and right (the constructor's paddingW, or the vertical padding when that is -1).</summary>
    public int PadW { get; } = ValidPadW(paddingW, padding);

    /// <summary>True when the kernel is square and padded alike on all four sides: the geometry the tuned kernels take.</summary>
    public bool IsUniform => KernelH == KernelW && PadH == PadW;

    /// <summary>The kernel size of a square kernel. Code that also handles rectangular kernels reads <see cref="KernelH"/> and <see cref="KernelW"/>.</summary>
    /// <exception cref="LopperInputException">The kernel is rectangular.</exception>
    public int Kernel => KernelH == KernelW ? KernelH
        : throw new LopperInputException($"op conv2d: this step handles square kernels only, and this convolution's kernel is {KernelH}x{KernelW}");

    /// <summary>The padding when it is the same on all four sides. Code that also handles per-axis padding reads <see cref="PadH"/> and <see cref="PadW"/>.</summary>
    /// <exception cref="LopperInputException">The padding differs between the axes.</exception>
    public int Padding => PadH == PadW ? PadH
        : throw new LopperInputException($"op conv2d: this step handles equal padding on every side only, and this convolution pads {PadH} rows and {PadW} columns");

    private static int ValidKernelW(int kernelW, int kernel)
    {
        if (kernelW < 0) throw new LopperInputException($"op conv2d: kernel width must be positive, got {kernelW}");
        return kernelW == 0 ? kernel : kernelW;
    }

    private static int ValidPadW(int paddingW, int padding)
    {
        if (paddingW < -1) throw new LopperInputException($"op conv2d: padding must not be negative, got {paddingW}");
        return paddingW == -1 ? padding : paddingW;
    }

    /// <summary>Whether the op has a bias.</summary>
    public bool HasBias { get; } = bias;
    /// <summary>ReLU applied to the output (fused by inference folding; saves a pass over memory).</summary>
    public bool FusedRelu { get; } = relu;
    /// <summary>
    /// Upper bound of the fused ReLU (positive infinity: none): a ReLU6 (Clip to [0, 6]) after the convolution and its
    /// batch-norm, folded in so the clip is applied per image while the output is still in cache, not as a pass of its own.
    /// </summary>
    public float ReluMax { get; } = ValidReluMax(reluMax, relu);

    private static float ValidReluMax(float max, bool relu)
    {
        if (float.IsNaN(max) || max <= 0) throw new LopperInputException($"op conv2d: relu_max must be above 0, got {max}");
        if (!relu && !float.IsPositiveInfinity(max)) throw new LopperInputException("op conv2d: relu_max needs relu");
        return max;
    }

    // Clamps one image's fused-ReLU output to ReluMax (the ReLU's lower bound is applied by the kernels).
    private void ClampToReluMax(float* y, long count)
    {
        if (float.IsPositiveInfinity(ReluMax)) return;
        var all = new Span<float>(y, checked((int)count));
        TensorPrimitives.Min(all, ReluMax, all);
    }

    /// <summary>Input 1 (the output's shape) is added to the result before the ReLU: a residual join fused by inference folding.</summary>
    public bool AddsResidual { get; } = residual;

    /// <summary>Channel groups: input and output channels split into this many blocks, block g of the output reading only block g of the input (depthwise when equal to the input channels).</summary>
    public int Groups { get; } = ValidGroups(groups, inChannels, outChannels, columns, dilation);
    /// <summary>Spacing between kernel taps (1: a plain convolution).</summary>
    public int Dilation { get; } = dilation;

    /// <summary>True for a depthwise convolution: one group per input channel (output channel k reads input channel k / multiplier).</summary>
    public bool IsDepthwise => Groups > 1 && Groups == InChannels;

    private static int ValidGroups(int groups, int inChannels, int outChannels, int[]? columns, int dilation)
    {
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new LopperInputException($"op conv2d: groups {groups} must be at least 1 and divide in_channels {inChannels} and out_channels {outChannels}");
        if (dilation < 1) throw new LopperInputException($"op conv2d: dilation must be at least 1, got {dilation}");
        if (columns is not null && (groups != 1 || dilation != 1))
            throw new LopperInputException("op conv2d: 'columns' needs groups 1 and dilation 1");
        return groups;
    }

    /// <inheritdoc/>
    public override int Arity => AddsResidual ? 2 : 1;
    /// <summary>Kept im2col rows (c*kh*kw + ky*kw + kx), ascending, or null for all.</summary>
    public int[]? Columns { get; } = ValidColumns(columns, inChannels * kernel * ValidKernelW(kernelW, kernel));

    private static int[]? ValidColumns(int[]? columns, int all)
    {
        if (columns is null) return null;
        if (columns.Length == 0) throw new LopperInputException("op conv2d: 'columns' must keep at least one column");
        for (int i = 0; i < columns.Length; i++)
            if (columns[i] < 0 || columns[i] >= all || (i > 0 && columns[i] <= columns[i - 1]))
                throw new LopperInputException($"op conv2d: 'columns' must be ascending indices below {all}");
        return columns;
    }

    /// <summary>Length of the GEMM's inner dimension: the kept columns.</summary>
    public int K => Columns?.Length ?? InChannels / Groups * KernelH * KernelW;

    /// <inheritdoc/>
    public override bool LocksInputChannels => Columns is not null;

    /// <inheritdoc/>
    public override string Type => "conv2d";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs)
    {
        if (input == 1) return ChannelMap.Tied(OutChannels);
        if (Groups == 1) return ChannelMap.Produces;
        // A depthwise filter reads one input channel: pruning that channel prunes its filters with it.
        if (IsDepthwise) return ChannelMap.GroupCoupled(InChannels, OutChannels / InChannels);
        return ChannelMap.Locked($"grouped convolution (groups {Groups}) couples its channels block by block; only depthwise convolutions are pruned");
    }

    private int OutSize(int x, int kernel, int pad) => (x + 2 * pad - Dilation * (kernel - 1) - 1) / Stride + 1;

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        if (s.Length != 4) throw ShapeError($"expects [N,C,H,W], got {Tensor.Format(s)}");
        if (s[1] != InChannels) throw ShapeError($"expects {InChannels} input channels, got {s[1]}");
        int oh = OutSize(s[2], KernelH, PadH), ow = OutSize(s[3], KernelW, PadW);
        if (oh < 1 || ow < 1) throw ShapeError($"input {s[2]}x{s[3]} too small for kernel {KernelH}x{KernelW}");
        int[] y = [s[0], OutChannels, oh, ow];
        if (AddsResidual && !inputs[1].AsSpan().SequenceEqual(y))
            throw ShapeError($"residual input {Tensor.Format(inputs[1])} does not match the output {Tensor.Format(y)}");
        return y;
    }

    private int[] OutputShapeOf(Tensor[] inputs) => OutputShape(AddsResidual ? [inputs[0].Shape, inputs[1].Shape] : [inputs[0].Shape]);

    /// <inheritdoc/>
    public override IReadOnlyList<ParamSpec> Parameters(IReadOnlyList<int[]> inputs)
    {
        int kk = KernelH * KernelW;
        int perGroup = InChannels / Groups;
        var w = Columns is null
            ? new ParamSpec("weight", [OutChannels, perGroup, KernelH, KernelW], ParamInit.KaimingNormalFanOut, true, 0, Groups == 1 ? 1 : -1, perGroup * kk, OutChannels * kk)
            : new ParamSpec("weight", [OutChannels, Columns.Length], ParamInit.KaimingNormalFanOut, true, 0, -1, Columns.Length, OutChannels * kk);
        if (!HasBias) return [w];
        return [w, new ParamSpec("bias", [OutChannels], ParamInit.UniformFanIn, true, 0, -1, perGroup * kk)];
    }

    /// <inheritdoc/>
    public override string? InferenceKernel(object? derived, IReadOnlyList<int[]> inputs)
    {
        switch (derived)
        {
            case TapPlan taps: return taps.Describe(KernelH * KernelW);
            case SliceSparseConv.Plan sparse: return $"slice-sparse lists: {sparse.Density * 100:F0} % of the kernel slices";
            case PositionTileConv.Plan: return "position tiles: dense blocks of up to 8 filters";
        }
        if (UsesGroupedPath) return UsesDepthwiseKernel ? "depthwise kernels" : "grouped im2col + GEMM";
        var o = OutputShape(inputs);
        int h = inputs[0][2], w = inputs[0][3];
        return DensePathFor(h, w, o[2], o[3]) switch
        {
            DensePath.Padded when derived is float[] => "direct tiles",
            DensePath.Padded => "GEMM over padded rows",
            DensePath.Strided => "direct tiles at stride 2",
            DensePath.Valid => "direct tiles without padding",
            DensePath.Shortcut => "projection-shortcut tiles",
            _ => IsPointwise ? "GEMM (1x1)" : "im2col + GEMM",
        };
    }

    // The dense kernel family Forward runs for an h x w input (oh x ow output) when no positions-in-lanes plan takes
    // the layer; a profile names it from the same rule.
    private enum DensePath { Padded, Strided, Valid, Shortcut, Gemm }

    private DensePath DensePathFor(int h, int w, int oh, int ow) =>
        UsesPaddedConv(w) || UsesColumnsPadded(h, w) ? DensePath.Padded
        : UsesStridedConv || UsesColumnsStrided ? DensePath.Strided
        : UsesValidConv(oh, ow) ? DensePath.Valid
        : UsesStridedPointwise(oh, ow) ? DensePath.Shortcut
        : DensePath.Gemm;

    /// <inheritdoc/>
    public override long Macs(IReadOnlyList<int[]> inputs)
    {
        var o = OutputShape(inputs);
        return (long)o[0] * OutChannels * o[2] * o[3] * K;
    }

    private bool IsPointwise => KernelH == 1 && KernelW == 1 && Stride == 1 && PadH == 0 && PadW == 0 && Columns is null;

    // Images per GEMM: small output planes (late layers) are put side by side so the GEMM is wide enough
    // for full-width tiles (7x7 = 49 columns alone runs at well under half the speed of 4 x 49 = 196).
    private const int GroupColumns = 192;

    private int GroupSize(int p, int images) => IsPointwise || p >= GroupColumns ? 1 : Math.Min(images, (GroupColumns + p - 1) / p);

    private void Unfold(float* image, int h, int w, int oh, int ow, float* cols, long ld)
    {
        if (Columns is null) Im2Col.Unfold(image, InChannels, h, w, KernelH, KernelW, Stride, PadH, PadW, oh, ow, cols, ld);
        else Im2Col.UnfoldColumns(image, InChannels, h, w, KernelH, KernelW, Stride, PadH, PadW, oh, ow, Columns, cols, ld);
    }

    private void FoldAdd(float* cols, int h, int w, int oh, int ow, float* image, long ld)
    {
        if (Columns is null) Im2Col.FoldAdd(cols, InChannels, h, w, KernelH, KernelW, Stride, PadH, PadW, oh, ow, image, ld);
        else Im2Col.FoldAddColumns(cols, InChannels, h, w, KernelH, KernelW, Stride, PadH, PadW, oh, ow, Columns, image, ld);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        if (UsesGroupedPath) return ForwardGrouped(inputs, parameters);
        var x = inputs[0];
        var shape = OutputShapeOf(inputs);
        var y = Tensor.Pooled(shape);
        int n = x.Shape[0], h = x.Shape[2], w = x.Shape[3], oh = shape[2], ow = shape[3];
        int k = K, p = oh * ow;
        int inPlane = InChannels * h * w, outPlane = OutChannels * p;
        var weight = parameters[0].Data;
        float[]? b = HasBias ? parameters[1].Data : null;
        float[]? residual = AddsResidual ? inputs[1].Data : null;
        int chunks = ChunksFor(n);
        bool padded = UsesPaddedConv(w), strided = UsesStridedConv;
        var path = DensePathFor(h, w, oh, ow);
        // An inference session on frozen weights packs once, for all its executors; training packs every pass (the weights move).
        bool keep = state.FrozenWeights;
        // Positions-in-lanes kernels for frozen weights with most slices zero, filter counts that idle tile lanes, or
        // a kernel-column subset.
        object? plan = !keep ? null
            : padded || strided ? (object?)SliceTaps(weight, state) ?? (object?)SliceSparse(weight, state, oh, ow) ?? PositionTiles(weight, state, oh, ow)
            : IsOneByOne ? PointwiseTaps(weight, state, oh, ow)
            : ColumnTaps(weight, state);
        if (plan is not null)
        {
            Parallelism.For(chunks, c =>
            {
                var (start, end) = Range(n, chunks, c);
                ForwardPitched(x.Data, plan, b, residual, y.Data, start, end, h, w, oh, ow);
            });
            return y;
        }
        float[]? packed = keep && state.Derived is float[] kept ? kept
            : padded ? PackForDirect(weight, OutChannels, k, h, w, keep)
            : path != DensePath.Gemm ? Pack(weight, OutChannels, k, keep) : null;
        if (keep && packed is not null) packed = state.KeepDerived(packed);
        if (padded && packed is not null && n < Parallelism.Threads && (long)OutChannels * p * k >= SplitRowsMacs)
        {
            // Fewer images than threads: split each image's output rows instead, where a layer has the work for it.
            ForwardPaddedSplitRows(x.Data, packed, b, residual, y.Data, n, h, w);
            if (!keep) BufferPool.Return(packed);
            return y;
        }
        Parallelism.For(chunks, c =>
        {
            var (start, end) = Range(n, chunks, c);
            switch (path)
            {
                case DensePath.Padded: ForwardPadded(x.Data, weight, packed, b, residual, y.Data, start, end, h, w); return;
                case DensePath.Strided: ForwardStrided(x.Data, packed!, b, residual, y.Data, start, end, h, w, oh, ow); return;
                case DensePath.Valid: ForwardValid(x.Data, packed!, b, residual, y.Data, start, end, h, w); return;
                case DensePath.Shortcut: ForwardStridedPointwise(x.Data, packed!, b, residual, y.Data, start, end, h, w, oh, ow); return;
            }
            int group = GroupSize(p, end - start);
            float[]? cols = IsPointwise ? null : BufferPool.Rent(k * p * group);
            float[]? wide = group > 1 ? BufferPool.Rent(OutChannels * p * group) : null;
            fixed (float* xp = x.Data, yp = y.Data, wp = weight, rp = residual)
            fixed (float* cp = cols, op = wide)
            {
                for (int i = start; i < end; i += group)
                {
                    int g = Math.Min(group, end - i), ld = g * p;
                    float* src = xp + (long)i * inPlane;
                    if (!IsPointwise)
                    {
                        for (int j = 0; j < g; j++) Unfold(src + (long)j * inPlane, h, w, oh, ow, cp + (long)j * p, ld);
                        src = cp;
                    }
                    float* dst = yp + (long)i * outPlane;
                    if (g == 1) Gemm.Multiply(false, false, OutChannels, p, k, wp, k, src, p, dst, p, false);
                    else
                    {
                        // [out, g*p] -> g images of [out, p].
                        Gemm.Multiply(false, false, OutChannels, ld, k, wp, k, src, ld, op, ld, false);
                        for (int j = 0; j < g; j++)
                            for (int o = 0; o < OutChannels; o++)
                                new ReadOnlySpan<float>(op + (long)o * ld + j * p, p).CopyTo(new Span<float>(dst + (long)j * outPlane + (long)o * p, p));
                    }
                    for (int j = 0; j < g; j++) Epilogue(dst + (long)j * outPlane, p, b, rp == null ? null : rp + (long)(i + j) * outPlane);
                }
            }
            if (cols is not null) BufferPool.Return(cols);
            if (wide is not null) BufferPool.Return(wide);
        });
        if (packed is not null && !keep) BufferPool.Return(packed);
        return y;
    }

    // The weight packed for PaddedConv's direct tiles (null where the GEMM path takes the plane):
    // [rows, depth] -> PaddedConv.PackWeights layout.
    private float[]? PackForDirect(float[] weight, int rows, int depth, int h, int w, bool keep = false) =>
        PaddedConv.UsesDirect(h, w, Kernel, rows) ? Pack(weight, rows, depth, keep) : null;

    // A kept packing lives as long as its inference session, so it is not pooled.
    private static float[] Pack(float[] weight, int rows, int depth, bool keep = false)
    {
        int length = PaddedConv.PackedLength(rows, depth);
        var packed = keep ? new float[length] : BufferPool.Rent(length);
        PaddedConv.PackWeights(weight.AsSpan(0, rows * depth), rows, depth, packed);
        return packed;
    }

    // Stride-1 same convolutions of images wide enough go through PaddedConv (no im2col), both ways.
    private bool UsesPaddedConv(int w) => Columns is null && IsUniform && PaddedConv.Applies(KernelH, Stride, PadH, w);

    // Stride-1 unpadded convolutions run forward through ValidConv's direct tiles where their lanes are not
    // mostly empty; their backward stays on im2col.
    private bool UsesValidConv(int oh, int ow) => Columns is null && IsUniform && ValidConv.Applies(KernelH, Stride, PadH) && ValidConv.UsesDirect(oh, ow, OutChannels);

    // Images [start, end) through ValidConv.Forward.
    private void ForwardValid(float[] x, float[] packed, float[]? bias, float[]? residual, float[] y, int start, int end, int h, int w)
    {
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * (h - Kernel + 1) * (w - Kernel + 1);
        fixed (float* xp = x, kp = packed, yp = y, bp = bias, rp = residual)
            for (int i = start; i < end; i++)
            {
                ValidConv.Forward(xp + i * inPlane, InChannels, h, w, Kernel, kp, OutChannels, yp + i * outPlane, bp, FusedRelu,
                    rp == null ? null : rp + i * outPlane);
                ClampToReluMax(yp + i * outPlane, outPlane);
            }
    }

    // 1x1 convolutions with a stride (projection shortcuts) run forward through StridedPointwiseConv's direct tiles
    // where their lanes are not mostly empty; their backward stays on im2col.
    // A kernel-column pruned one (SPP) reads its kept input channels only: through im2col and the GEMM at depth 9
    // (ResNet-20's last shortcut after SPP at 30 % of the MACs) it took as long as the dense shortcut.
    private bool UsesStridedPointwise(int oh, int ow) =>
        IsUniform && StridedPointwiseConv.Applies(KernelH, Stride, PadH) && ValidConv.UsesDirect(oh, ow, OutChannels);

    // Images [start, end) through StridedPointwiseConv.Forward.
    private void ForwardStridedPointwise(float[] x, float[] packed, float[]? bias, float[]? residual, float[] y, int start, int end, int h, int w, int oh, int ow)
    {
        int channels = K;
        var gathered = BufferPool.Rent(StridedPointwiseConv.GatheredLength(channels, oh, ow));
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * oh * ow;
        fixed (float* xp = x, kp = packed, yp = y, gp = gathered, bp = bias, rp = residual)
            for (int i = start; i < end; i++)
            {
                StridedPointwiseConv.Forward(xp + i * inPlane, channels, h, w, Stride, kp, OutChannels, yp + i * outPlane, gp, bp, FusedRelu,
                    rp == null ? null : rp + i * outPlane, Columns);
                ClampToReluMax(yp + i * outPlane, outPlane);
            }
        BufferPool.Return(gathered);
    }

    // Kernel-column pruned convolutions (SPP) of the padded and stride-2 shapes run forward through the same direct
    // tiles, one depth step per kept column, where the lanes are not mostly empty; backward, the padded ones run as
    // the dense convolution with the pruned columns zero (see Backward), the stride-2 ones on im2col. Through im2col
    // and the GEMM a ResNet-20 at half the MACs after SPP ran slower than the dense model (0.83x).
    private bool UsesColumnsPadded(int h, int w) =>
        Columns is not null && IsUniform && PaddedConv.Applies(KernelH, Stride, PadH, w) && PaddedConv.UsesDirect(h, w, Kernel, OutChannels);

    private bool UsesColumnsStrided => Columns is not null && IsUniform && StridedConv.Applies(KernelH, Stride, PadH);

    // Stride-2 3x3 convolutions go through StridedConv forward and for the weight gradient; dx stays on im2col.
    private bool UsesStridedConv => Columns is null && IsUniform && StridedConv.Applies(KernelH, Stride, PadH);

    // Images [start, end) through StridedConv.Forward; the phase scratch is zeroed once for all of them.
    private void ForwardStrided(float[] x, float[] packed, float[]? bias, float[]? residual, float[] y, int start, int end, int h, int w, int oh, int ow)
    {
        int length = StridedConv.PhasedLength(InChannels, oh, ow);
        var phased = BufferPool.Rent(length);
        Array.Clear(phased, 0, length);
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * oh * ow;
        fixed (float* xp = x, kp = packed, yp = y, pp = phased, bp = bias, rp = residual)
            for (int i = start; i < end; i++)
            {
                StridedConv.Forward(xp + i * inPlane, InChannels, h, w, kp, OutChannels, yp + i * outPlane, pp, bp, FusedRelu,
                    rp == null ? null : rp + i * outPlane, Columns);
                ClampToReluMax(yp + i * outPlane, outPlane);
            }
        BufferPool.Return(phased);
    }

    // The tap-major weight gradient partial (zeroed here) of images [start, end) through StridedConv.
    private void WeightGradientStrided(float[] x, float[] gradOut, float[] partial, int start, int end, int h, int w, int oh, int ow)
    {
        Array.Clear(partial, 0, OutChannels * K);
        int phasedLength = StridedConv.PhasedLength(InChannels, oh, ow), gradLength = StridedConv.GradLength(OutChannels, oh, ow);
        var phased = BufferPool.Rent(phasedLength);
        var paddedGrad = BufferPool.Rent(gradLength);
        Array.Clear(phased, 0, phasedLength);
        Array.Clear(paddedGrad, 0, gradLength);
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * oh * ow;
        fixed (float* xp = x, gp = gradOut, dwp = partial, pp = phased, pgp = paddedGrad)
            for (int i = start; i < end; i++)
                StridedConv.WeightGradient(xp + i * inPlane, gp + i * outPlane, InChannels, OutChannels, h, w, dwp, pp, pgp);
        BufferPool.Return(phased);
        BufferPool.Return(paddedGrad);
    }

    // Multiply-adds per image below which splitting an image's rows over threads cost more than it saved: at batch 1
    // on two Zen 5 cores vgg-small's layers (14-29 M) made it 1.5x faster split, ResNet-20 and -56 (layers up to 2.4 M) 1.4x slower.
    private const long SplitRowsMacs = 4_000_000;

    // Each image through PaddedConv.ForwardSplitRows: its output rows shared by the threads.
    private void ForwardPaddedSplitRows(float[] x, float[] packed, float[]? bias, float[]? residual, float[] y, int n, int h, int w)
    {
        var padded = BufferPool.Rent(PaddedConv.PaddedLength(InChannels, h, w, Kernel));
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * h * w;
        fixed (float* xp = x, kp = packed, yp = y, pp = padded, bp = bias, rp = residual)
            for (int i = 0; i < n; i++)
            {
                PaddedConv.ForwardSplitRows(xp + i * inPlane, InChannels, h, w, Kernel, kp, OutChannels, yp + i * outPlane, pp, Parallelism.Threads,
                    bp, FusedRelu, rp == null ? null : rp + i * outPlane);
                ClampToReluMax(yp + i * outPlane, outPlane);
            }
        BufferPool.Return(padded);
    }

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
    // Up to this many input channels (a stem) even full widths take the position tiles: 1 -> 16 on 28x28 and 3 -> 16
    // on 32x32 ran 1.0-1.45x the direct tiles, whose few depth steps leave the transposed store most of the work.
    private const int StemInChannels = 4;

    private bool PrefersPositionTiles(int oh, int ow)
    {
        if (Kernel != 3 || !PositionTileConv.Supported) return false;
        return !UsesDirectTiles(oh, ow) || OutChannels < PaddedConv.PackedLength(OutChannels, 1) || InChannels <= StemInChannels;
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
        if (derived is not null || Columns is null || !IsUniform || Kernel != 3 || Stride > 2 || PadH != 1 || !CompactTileConv.Supported) return null;
        return state.KeepDerived(TapPlan.ForColumns(weight.AsSpan(0, OutChannels * K), OutChannels, InChannels, Columns));
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
    private TapPlan? SliceTaps(float[] weight, NodeState state)
    {
        var derived = state.Derived;   // read once: another executor may set it between two reads
        if (derived is TapPlan kept) return kept;
        if (derived is not null || Kernel != 3 || Stride > 2 || Columns is not null || !CompactTileConv.Supported) return null;
        var plan = TapPlan.ForSlices(weight.AsSpan(0, OutChannels * K), OutChannels, InChannels);
        if (plan.KeptShare >= 1 || plan.CostShare > 0.95) return null;
        if (plan.KeptShare <= SliceSparseMaxDensity && plan.KeptShare * SliceSparseCostPerSlice < plan.CostShare) return null;
        return state.KeepDerived(plan);
    }

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

    // Images [start, end) through a positions-in-lanes plan: SliceSparseConv (stride 1, or 2 through its padded
    // parity phases), PositionTileConv's dense blocks (stride 1) or a TapPlan (stride 1, or 2 through compact
    // phases); bias, residual and fused ReLU included.
    private void ForwardPitched(float[] x, object plan, float[]? bias, float[]? residual, float[] y, int start, int end, int h, int w, int oh, int ow)
    {
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

    // Images [start, end) through PaddedConv.Forward, bias, residual and fused ReLU included.
    private void ForwardPadded(float[] x, float[] weight, float[]? packed, float[]? bias, float[]? residual, float[] y, int start, int end, int h, int w)
    {
        var padded = BufferPool.Rent(PaddedConv.PaddedLength(InChannels, h, w, Kernel));
        float** rows = stackalloc float*[packed is null ? K : 0];
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * h * w;
        fixed (float* xp = x, wp = weight, kp = packed, yp = y, pp = padded, bp = bias, rp = residual)
            for (int i = start; i < end; i++)
            {
                PaddedConv.Forward(xp + i * inPlane, InChannels, h, w, Kernel, wp, kp, OutChannels, yp + i * outPlane, pp, rows, bp, FusedRelu,
                    rp == null ? null : rp + i * outPlane, Columns);
                ClampToReluMax(yp + i * outPlane, outPlane);
            }
        BufferPool.Return(padded);
    }

    // Images [start, end) through PaddedConv.Backward: dx (when flipped is given) and the tap-major weight
    // gradient partial (when given; zeroed here), each image's output gradient padded once for both.
    private void BackwardPadded(float[] x, float[] gradOut, float[]? flipped, float[]? packedFlipped, float[]? dx, float[]? partial, int start, int end, int h, int w)
    {
        // The partial covers every (tap, channel), also for a kernel-column pruned weight.
        if (partial is not null) Array.Clear(partial, 0, OutChannels * InChannels * Kernel * Kernel);
        var paddedGrad = BufferPool.Rent(PaddedConv.PaddedLength(OutChannels, h, w, Kernel));
        float[]? paddedX = partial is null ? null : BufferPool.Rent(PaddedConv.PaddedLength(InChannels, h, w, Kernel));
        bool gemmDx = dx is not null && packedFlipped is null;
        float** rows = stackalloc float*[gemmDx ? OutChannels * Kernel * Kernel : 0];
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * h * w;
        fixed (float* xp = x, gp = gradOut, fp = flipped, kp = packedFlipped, dxp = dx, dwp = partial, pg = paddedGrad, px = paddedX)
            for (int i = start; i < end; i++)
                PaddedConv.Backward(xp + i * inPlane, gp + i * outPlane, InChannels, OutChannels, h, w, Kernel,
                    fp, kp, dxp == null ? null : dxp + i * inPlane, dwp, pg, px, rows);
        BufferPool.Return(paddedGrad);
        if (paddedX is not null) BufferPool.Return(paddedX);
    }

    // A kernel-column pruned weight [out, K] as the dense [out, in*k*k] with the pruned columns zero (pooled).
    private float[] ExpandColumns(float[] weight)
    {
        int denseK = InChannels * Kernel * Kernel, k = K;
        var dense = BufferPool.Rent(OutChannels * denseK);
        Array.Clear(dense, 0, OutChannels * denseK);
        for (int o = 0; o < OutChannels; o++)
            for (int r = 0; r < k; r++) dense[o * denseK + Columns![r]] = weight[o * k + r];
        return dense;
    }

    // Bias, residual and fused ReLU on one image's output planes.
    private void Epilogue(float* y, int plane, float[]? bias, float* residual)
    {
        if (residual != null)
        {
            var all = new Span<float>(y, OutChannels * plane);
            TensorPrimitives.Add(all, new ReadOnlySpan<float>(residual, OutChannels * plane), all);
        }
        if (bias is not null)
            for (int o = 0; o < OutChannels; o++)
            {
                var row = new Span<float>(y + (long)o * plane, plane);
                TensorPrimitives.Add(row, bias[o], row);
            }
        if (FusedRelu)
        {
            var all = new Span<float>(y, OutChannels * plane);
            // Both bounds in one pass where there is an upper one (a folded ReLU6).
            if (float.IsPositiveInfinity(ReluMax)) TensorPrimitives.Max(all, 0f, all);
            else TensorPrimitives.Clamp(all, 0f, ReluMax, all);
        }
    }

    // Where the output sits at the clip's upper bound the gradient is zero (as ClipOp's backward).
    private static void ClippedBackward(Tensor output, Tensor gradOut, float max)
    {
        float[] o = output.Data, g = gradOut.Data;
        Parallelism.ForSlices(output.Length, (s, n) =>
        {
            for (int i = s; i < s + n; i++)
                if (o[i] >= max) g[i] = 0f;
        });
    }

    /// <inheritdoc/>
    public override bool BackwardReadsOutput => FusedRelu;

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        var x = inputs[0];
        // The output itself may already be freed (it is read only with a fused ReLU): its shape comes from x.
        var outShape = OutputShapeOf(inputs);
        int n = x.Shape[0], h = x.Shape[2], w = x.Shape[3], oh = outShape[2], ow = outShape[3];
        int k = K, p = oh * ow;
        int inPlane = InChannels * h * w, outPlane = OutChannels * p;
        bool needX = state.NeedsInputGrad[0];
        var dx = needX ? Tensor.Pooled(x.Shape) : null;
        var weight = parameters[0].Data;
        var dW = paramGrads[0];
        // With a fused ReLU the incoming gradient is first masked by the output; gradOut is ours to overwrite.
        if (FusedRelu) Simd.ParallelReluBackward(output, gradOut);
        if (FusedRelu && !float.IsPositiveInfinity(ReluMax)) ClippedBackward(output, gradOut, ReluMax);
        if (UsesGroupedPath)
        {
            BackwardGrouped(x, gradOut, weight, dx, dW, oh, ow);
            return FinishBackward(gradOut, paramGrads, dx, state, n, outPlane, p);
        }
        int chunks = ChunksFor(n);
        // One partial weight gradient per chunk, summed in chunk order: deterministic for a thread count. The
        // partials are transposed, [K, out] = cols x gradOut^T: that GEMM packs only the small gradOut side,
        // where [out, K] = gradOut x cols^T would transpose all of cols into panels (about twice as slow).
        var partials = new float[chunks][];
        // A kernel-column pruned convolution of the padded shape runs backward as the dense one whose pruned columns
        // are zero (its weight gradient is then read at the kept columns only): the padded path's row pointers and
        // direct tiles cost less than im2col and the GEMM even with the pruned columns' work done (the grid's SPP cell
        // at half the MACs: 847-884 -> 914-941 training images/s, `bench --from`, two pairs; the dense model 934).
        bool columnsPadded = UsesColumnsPadded(h, w);
        int denseK = InChannels * KernelH * KernelW, partialK = columnsPadded ? denseK : k;
        bool padded = UsesPaddedConv(w) || columnsPadded, strided = UsesStridedConv;
        // PaddedConv's and StridedConv's weight gradients are tap-major: row t*in + c of the partial, not c*k*k + t.
        bool paddedW = padded && dW is not null, stridedW = strided && dW is not null, tapMajorW = paddedW || stridedW;
        float[]? flipped = null, packedFlipped = null;
        if (needX && padded)
        {
            float[] dense = columnsPadded ? ExpandColumns(weight) : weight;
            flipped = BufferPool.Rent(OutChannels * denseK);
            PaddedConv.FlipTranspose(dense, OutChannels, InChannels, Kernel, flipped);
            packedFlipped = PackForDirect(flipped, InChannels, OutChannels * Kernel * Kernel, h, w);
            if (columnsPadded) BufferPool.Return(dense);
        }
        Parallelism.For(chunks, c =>
        {
            var (start, end) = Range(n, chunks, c);
            float[]? dWc = dW is null ? null : BufferPool.Rent(OutChannels * partialK);
            partials[c] = dWc!;
            if (flipped is not null || paddedW) BackwardPadded(x.Data, gradOut.Data, flipped, packedFlipped, flipped is null ? null : dx!.Data, paddedW ? dWc : null, start, end, h, w);
            if (stridedW) WeightGradientStrided(x.Data, gradOut.Data, dWc!, start, end, h, w, oh, ow);
            bool colsGrad = needX && flipped is null, colsW = dW is not null && !tapMajorW;
            if (!colsGrad && !colsW) return;
            int group = GroupSize(p, end - start);
            float[]? cols = IsPointwise || !colsW ? null : BufferPool.Rent(k * p * group);
            float[]? dcols = IsPointwise || !colsGrad ? null : BufferPool.Rent(k * p * group);
            float[]? wide = group > 1 ? BufferPool.Rent(OutChannels * p * group) : null;
            fixed (float* xp = x.Data, gp = gradOut.Data, wp = weight, dwp = colsW ? dWc : null)
            fixed (float* cp = cols, dcp = dcols, op = wide, dxp = colsGrad ? dx!.Data : null)
            {
                for (int i = start; i < end; i += group)
                {
                    int g = Math.Min(group, end - i), ld = g * p;
                    float* gi = gp + (long)i * outPlane;
                    if (g > 1)
                    {
                        // g images of [out, p] -> [out, g*p], the layout of the forward GEMM's output.
                        for (int j = 0; j < g; j++)
                            for (int o = 0; o < OutChannels; o++)
                                new ReadOnlySpan<float>(gi + (long)j * outPlane + (long)o * p, p).CopyTo(new Span<float>(op + (long)o * ld + j * p, p));
                        gi = op;
                    }
                    if (dwp != null)
                    {
                        float* src = xp + (long)i * inPlane;
                        if (!IsPointwise)
                        {
                            for (int j = 0; j < g; j++) Unfold(src + (long)j * inPlane, h, w, oh, ow, cp + (long)j * p, ld);
                            src = cp;
                        }
                        Gemm.Multiply(false, true, k, OutChannels, ld, src, ld, gi, ld, dwp, OutChannels, i != start);
                    }
                    if (dxp != null)
                    {
                        float* dxi = dxp + (long)i * inPlane;
                        if (IsPointwise)
                            Gemm.Multiply(true, false, k, p, OutChannels, wp, k, gi, p, dxi, p, false);
                        else
                        {
                            Gemm.Multiply(true, false, k, ld, OutChannels, wp, k, gi, ld, dcp, ld, false);
                            new Span<float>(dxi, inPlane * g).Clear();
                            for (int j = 0; j < g; j++) FoldAdd(dcp + (long)j * p, h, w, oh, ow, dxi + (long)j * inPlane, ld);
                        }
                    }
                }
            }
            if (cols is not null) BufferPool.Return(cols);
            if (dcols is not null) BufferPool.Return(dcols);
            if (wide is not null) BufferPool.Return(wide);
        });
        if (flipped is not null) BufferPool.Return(flipped);
        if (packedFlipped is not null) BufferPool.Return(packedFlipped);
        if (dW is not null)
        {
            var sum = partials[0];
            int length = OutChannels * partialK;
            if (n == 0) Array.Clear(sum, 0, length);
            for (int c = 1; c < chunks; c++)
            {
                TensorPrimitives.Add(sum.AsSpan(0, length), partials[c].AsSpan(0, length), sum.AsSpan(0, length));
                BufferPool.Return(partials[c]);
            }
            var d = dW.Data;
            int taps = KernelH * KernelW;
            for (int r = 0; r < k; r++)
            {
                int f = columnsPadded ? Columns![r] : r;
                int row = tapMajorW ? (f % taps) * InChannels + f / taps : f;
                for (int o = 0; o < OutChannels; o++) d[o * k + r] = sum[row * OutChannels + o];
            }
            BufferPool.Return(sum);
        }
        return FinishBackward(gradOut, paramGrads, dx, state, n, outPlane, p);
    }

    // The bias gradient and the returned input gradients, shared by the dense and the grouped paths.
    private Tensor?[] FinishBackward(Tensor gradOut, Tensor?[] paramGrads, Tensor? dx, NodeState state, int n, int outPlane, int p)
    {
        if (HasBias && paramGrads[1] is { } db)
        {
            var dbs = db.Span;
            dbs.Clear();
            var g = gradOut.Span;
            for (int i = 0; i < n; i++)
                for (int o = 0; o < OutChannels; o++)
                    dbs[o] += TensorPrimitives.Sum(g.Slice(i * outPlane + o * p, p));
        }
        // The residual's gradient is the (ReLU-masked) output gradient itself, which nothing here changes after the mask.
        if (AddsResidual) return [dx, state.NeedsInputGrad[1] ? gradOut : null];
        return [dx];
    }

    private static int ChunksFor(int batch) => batch >= Parallelism.Threads && !Parallelism.InParallelRegion ? Math.Min(batch, Parallelism.Threads) : 1;

    internal static (int Start, int End) Range(int n, int chunks, int c) => ((int)((long)n * c / chunks), (int)((long)n * (c + 1) / chunks));

    /// <inheritdoc/>
    public override Op Resized(int[] inChannels, int outChannels)
    {
        if (Columns is not null && inChannels[0] != InChannels)
            throw new InvalidOperationException("a column-subset convolution's input channels are fixed");
        // A depthwise convolution keeps one group per (kept) input channel; other grouped ones are locked, so unchanged.
        int groups = IsDepthwise ? inChannels[0] : Groups;
        return new Conv2dOp(inChannels[0], outChannels, KernelH, Stride, PadH, HasBias, Columns, FusedRelu, AddsResidual, groups, Dilation, KernelW, PadW, ReluMax);
    }

    /// <summary>
    /// The same convolution (geometry, channels, groups) with another bias, column subset and epilogue: what inference
    /// folding and column surgery build. <paramref name="reluMax"/> null keeps this op's upper bound when the ReLU stays.
    /// </summary>
    public Conv2dOp With(bool bias, int[]? columns, bool relu, bool residual, float? reluMax = null)
        => new(InChannels, OutChannels, KernelH, Stride, PadH, bias, columns, relu, residual, Groups, Dilation, KernelW, PadW,
            reluMax ?? (relu ? ReluMax : float.PositiveInfinity));

    // A square size as one integer, a rectangular one as [height, width].
    private static JsonNode Pair(int h, int w) => h == w ? h : new JsonArray(h, w);

    /// <inheritdoc/>
    public override JsonObject Attributes()
    {
        var a = new JsonObject
        {
            ["in_channels"] = InChannels, ["out_channels"] = OutChannels, ["kernel"] = Pair(KernelH, KernelW),
            ["stride"] = Stride, ["padding"] = Pair(PadH, PadW), ["bias"] = HasBias,
        };
        if (Groups != 1) a["groups"] = Groups;
        if (Dilation != 1) a["dilation"] = Dilation;
        if (FusedRelu) a["relu"] = true;
        if (!float.IsPositiveInfinity(ReluMax)) a["relu_max"] = (double)ReluMax;
        if (AddsResidual) a["residual"] = true;
        if (Columns is not null) a["columns"] = new JsonArray(Columns.Select(c => (JsonNode)c).ToArray());
        return a;
    }

    /// <summary>Reads the op from model.json attributes.</summary>
    public static Conv2dOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "conv2d");
        int inChannels = a.Int("in_channels", 1, OpAttributes.MaxSize), outChannels = a.Int("out_channels", 1, OpAttributes.MaxSize);
        var (kh, kw) = a.IntOrPair("kernel", null, 1, OpAttributes.MaxSize);
        int stride = a.Int("stride", 1, 1, OpAttributes.MaxSize);
        var (ph, pw) = a.IntOrPair("padding", 0, 0, OpAttributes.MaxSize);
        var op = new Conv2dOp(inChannels, outChannels, kh, stride, ph, a.Bool("bias", false),
            a.Ints("columns", false, 0, int.MaxValue), a.Bool("relu", false), a.Bool("residual", false),
            a.Int("groups", 1, 1, OpAttributes.MaxSize), a.Int("dilation", 1, 1, OpAttributes.MaxSize), kw, pw,
            (float)a.Real("relu_max", double.PositiveInfinity, double.Epsilon, float.MaxValue));
        a.Done();
        return op;
    }
}
