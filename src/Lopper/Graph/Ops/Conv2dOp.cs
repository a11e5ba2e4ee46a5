using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>
/// 2-D convolution (square kernel, dilation 1, groups 1) as im2col + GEMM per image. Batches at
/// least as large as the thread budget are split over threads by image; smaller ones let the GEMM
/// split instead. With <see cref="Columns"/> the op keeps only those im2col rows (input channel, ky, kx):
/// the weight is [out, columns] and the GEMM's inner dimension shrinks with it, so pruned kernel
/// columns cost nothing.
/// </summary>
public sealed unsafe class Conv2dOp(int inChannels, int outChannels, int kernel, int stride, int padding, bool bias, int[]? columns = null, bool relu = false) : Op
{
    /// <summary>Input channels.</summary>
    public int InChannels { get; } = inChannels;
    /// <summary>Output channels (filters).</summary>
    public int OutChannels { get; } = outChannels;
    /// <summary>Kernel height and width.</summary>
    public int Kernel { get; } = kernel;
    /// <summary>Stride.</summary>
    public int Stride { get; } = stride;
    /// <summary>Zero padding on each side.</summary>
    public int Padding { get; } = padding;
    /// <summary>Whether the op has a bias.</summary>
    public bool HasBias { get; } = bias;
    /// <summary>ReLU applied to the output (fused by inference folding; saves a pass over memory).</summary>
    public bool FusedRelu { get; } = relu;
    /// <summary>Kept im2col rows (c*k*k + ky*k + kx), ascending, or null for all.</summary>
    public int[]? Columns { get; } = ValidColumns(columns, inChannels * kernel * kernel);

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
    public int K => Columns?.Length ?? InChannels * Kernel * Kernel;

    /// <inheritdoc/>
    public override bool LocksInputChannels => Columns is not null;

    /// <inheritdoc/>
    public override string Type => "conv2d";
    /// <inheritdoc/>
    public override ChannelRule ChannelRule => ChannelRule.Produces;

    private int OutSize(int x) => (x + 2 * Padding - Kernel) / Stride + 1;

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        if (s.Length != 4) throw ShapeError($"expects [N,C,H,W], got {Tensor.Format(s)}");
        if (s[1] != InChannels) throw ShapeError($"expects {InChannels} input channels, got {s[1]}");
        int oh = OutSize(s[2]), ow = OutSize(s[3]);
        if (oh < 1 || ow < 1) throw ShapeError($"input {s[2]}x{s[3]} too small for kernel {Kernel}");
        return [s[0], OutChannels, oh, ow];
    }

    /// <inheritdoc/>
    public override IReadOnlyList<ParamSpec> Parameters(IReadOnlyList<int[]> inputs)
    {
        int kk = Kernel * Kernel;
        var w = Columns is null
            ? new ParamSpec("weight", [OutChannels, InChannels, Kernel, Kernel], ParamInit.KaimingNormalFanOut, true, 0, 1, InChannels * kk, OutChannels * kk)
            : new ParamSpec("weight", [OutChannels, Columns.Length], ParamInit.KaimingNormalFanOut, true, 0, -1, Columns.Length, OutChannels * kk);
        if (!HasBias) return [w];
        return [w, new ParamSpec("bias", [OutChannels], ParamInit.UniformFanIn, true, 0, -1, InChannels * kk)];
    }

    /// <inheritdoc/>
    public override long Macs(IReadOnlyList<int[]> inputs)
    {
        var o = OutputShape(inputs);
        return (long)o[0] * OutChannels * o[2] * o[3] * K;
    }

    private bool IsPointwise => Kernel == 1 && Stride == 1 && Padding == 0 && Columns is null;

    private void Unfold(float* image, int h, int w, int oh, int ow, float* cols)
    {
        if (Columns is null) Im2Col.Unfold(image, InChannels, h, w, Kernel, Kernel, Stride, Padding, oh, ow, cols);
        else Im2Col.UnfoldColumns(image, InChannels, h, w, Kernel, Kernel, Stride, Padding, oh, ow, Columns, cols);
    }

    private void FoldAdd(float* cols, int h, int w, int oh, int ow, float* image)
    {
        if (Columns is null) Im2Col.FoldAdd(cols, InChannels, h, w, Kernel, Kernel, Stride, Padding, oh, ow, image);
        else Im2Col.FoldAddColumns(cols, InChannels, h, w, Kernel, Kernel, Stride, Padding, oh, ow, Columns, image);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var shape = OutputShape([x.Shape]);
        var y = Tensor.Pooled(shape);
        int n = x.Shape[0], h = x.Shape[2], w = x.Shape[3], oh = shape[2], ow = shape[3];
        int k = K, p = oh * ow;
        int inPlane = InChannels * h * w, outPlane = OutChannels * p;
        var weight = parameters[0].Data;
        float[]? b = HasBias ? parameters[1].Data : null;
        int chunks = ChunksFor(n);
        Parallelism.For(chunks, c =>
        {
            var (start, end) = Range(n, chunks, c);
            float[]? cols = IsPointwise ? null : BufferPool.Rent(k * p);
            fixed (float* xp = x.Data, yp = y.Data, wp = weight)
            fixed (float* cp = cols)
            {
                for (int i = start; i < end; i++)
                {
                    float* src = xp + (long)i * inPlane;
                    if (!IsPointwise)
                    {
                        Unfold(src, h, w, oh, ow, cp);
                        src = cp;
                    }
                    float* dst = yp + (long)i * outPlane;
                    Gemm.Multiply(false, false, OutChannels, p, k, wp, k, src, p, dst, p, false);
                    if (b is not null)
                        for (int o = 0; o < OutChannels; o++)
                        {
                            var row = new Span<float>(dst + (long)o * p, p);
                            TensorPrimitives.Add(row, b[o], row);
                        }
                    if (FusedRelu)
                    {
                        var all = new Span<float>(dst, outPlane);
                        TensorPrimitives.Max(all, 0f, all);
                    }
                }
            }
            if (cols is not null) BufferPool.Return(cols);
        });
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        var x = inputs[0];
        int n = x.Shape[0], h = x.Shape[2], w = x.Shape[3], oh = output.Shape[2], ow = output.Shape[3];
        int k = K, p = oh * ow;
        int inPlane = InChannels * h * w, outPlane = OutChannels * p;
        bool needX = state.NeedsInputGrad[0];
        var dx = needX ? Tensor.Pooled(x.Shape) : null;
        var weight = parameters[0].Data;
        var dW = paramGrads[0];
        // With a fused ReLU the incoming gradient is first masked by the output; gradOut is ours to overwrite.
        if (FusedRelu) Simd.ReluBackward(output.Span, gradOut.Span, gradOut.Span);
        int chunks = ChunksFor(n);
        // One partial weight gradient per chunk, summed in chunk order: deterministic for a thread count.
        var partials = new float[chunks][];
        Parallelism.For(chunks, c =>
        {
            var (start, end) = Range(n, chunks, c);
            float[]? cols = IsPointwise ? null : BufferPool.Rent(k * p);
            float[]? dcols = IsPointwise || !needX ? null : BufferPool.Rent(k * p);
            float[]? dWc = dW is null ? null : (c == 0 ? dW.Data : BufferPool.Rent(OutChannels * k));
            partials[c] = dWc!;
            fixed (float* xp = x.Data, gp = gradOut.Data, wp = weight, dwp = dWc)
            fixed (float* cp = cols, dcp = dcols, dxp = dx is null ? null : dx.Data)
            {
                for (int i = start; i < end; i++)
                {
                    float* gi = gp + (long)i * outPlane;
                    if (dwp != null)
                    {
                        float* src = xp + (long)i * inPlane;
                        if (!IsPointwise)
                        {
                            Unfold(src, h, w, oh, ow, cp);
                            src = cp;
                        }
                        Gemm.Multiply(false, true, OutChannels, k, p, gi, p, src, p, dwp, k, i != start);
                    }
                    if (dxp != null)
                    {
                        float* dxi = dxp + (long)i * inPlane;
                        if (IsPointwise)
                            Gemm.Multiply(true, false, k, p, OutChannels, wp, k, gi, p, dxi, p, false);
                        else
                        {
                            Gemm.Multiply(true, false, k, p, OutChannels, wp, k, gi, p, dcp, p, false);
                            new Span<float>(dxi, inPlane).Clear();
                            FoldAdd(dcp, h, w, oh, ow, dxi);
                        }
                    }
                }
            }
            if (cols is not null) BufferPool.Return(cols);
            if (dcols is not null) BufferPool.Return(dcols);
        });
        if (dW is not null)
        {
            if (n == 0) dW.Span.Clear();
            for (int c = 1; c < chunks; c++)
            {
                TensorPrimitives.Add(dW.Span, partials[c], dW.Span);
                BufferPool.Return(partials[c]);
            }
        }
        if (HasBias && paramGrads[1] is { } db)
        {
            var dbs = db.Span;
            dbs.Clear();
            var g = gradOut.Span;
            for (int i = 0; i < n; i++)
                for (int o = 0; o < OutChannels; o++)
                    dbs[o] += TensorPrimitives.Sum(g.Slice(i * outPlane + o * p, p));
        }
        return [dx];
    }

    private static int ChunksFor(int batch) => batch >= Parallelism.Threads && !Parallelism.InParallelRegion ? Math.Min(batch, Parallelism.Threads) : 1;

    internal static (int Start, int End) Range(int n, int chunks, int c) => ((int)((long)n * c / chunks), (int)((long)n * (c + 1) / chunks));

    /// <inheritdoc/>
    public override Op Resized(int inChannels, int outChannels)
    {
        if (Columns is not null && inChannels != InChannels)
            throw new InvalidOperationException("a column-subset convolution's input channels are fixed");
        return new Conv2dOp(inChannels, outChannels, Kernel, Stride, Padding, HasBias, Columns, FusedRelu);
    }

    /// <inheritdoc/>
    public override JsonObject Attributes()
    {
        var a = new JsonObject
        {
            ["in_channels"] = InChannels, ["out_channels"] = OutChannels, ["kernel"] = Kernel,
            ["stride"] = Stride, ["padding"] = Padding, ["bias"] = HasBias,
        };
        if (FusedRelu) a["relu"] = true;
        if (Columns is not null) a["columns"] = new JsonArray(Columns.Select(c => (JsonNode)c).ToArray());
        return a;
    }

    /// <summary>Reads the op from model.json attributes.</summary>
    public static Conv2dOp FromJson(JsonObject a) => new(
        Int(a, "in_channels", "conv2d"), Int(a, "out_channels", "conv2d"), Int(a, "kernel", "conv2d"),
        Int(a, "stride", 1), Int(a, "padding", 0), Bool(a, "bias", false),
        a["columns"] is JsonArray cols ? cols.Select(v => v is JsonValue j && j.TryGetValue(out int c) ? c : throw new LopperInputException("op conv2d: 'columns' must be integers")).ToArray() : null,
        Bool(a, "relu", false));
}
