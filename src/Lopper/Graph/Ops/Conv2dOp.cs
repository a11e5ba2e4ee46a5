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
/// below describes the dense path: its forward kernels in Conv2dOp.Forward.cs, the plans that frozen pruned weights
/// run through in Conv2dOp.FrozenPlans.cs, its gradients in Conv2dOp.Backward.cs. Batches at
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
