using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

// The dense forward pass of Conv2dOp: which kernel family an input geometry takes (the direct tiles padded, at stride 2
// or unpadded, the projection-shortcut tiles, or im2col + GEMM), the packing each keeps, and the bias, residual and
// ReLU epilogue. Frozen weights may first be taken by a positions-in-lanes plan (Conv2dOp.FrozenPlans.cs).
public sealed unsafe partial class Conv2dOp
{
    // Clamps one image's fused-ReLU output to ReluMax (the ReLU's lower bound is applied by the kernels).
    private void ClampToReluMax(float* y, long count)
    {
        if (float.IsPositiveInfinity(ReluMax)) return;
        var all = new Span<float>(y, checked((int)count));
        TensorPrimitives.Min(all, ReluMax, all);
    }

    /// <inheritdoc/>
    public override string? InferenceKernel(object? derived, IReadOnlyList<int[]> inputs)
    {
        switch (derived)
        {
            case TapPlan taps: return taps.Describe(KernelH * KernelW);
            case SliceSparseConv.Plan sparse: return $"slice-sparse lists: {sparse.Density * 100:F0} % of the kernel slices";
            case PositionTileConv.Plan tiles: return $"position tiles: dense blocks of up to {(tiles.Wide ? PositionTileConv.MaxBlock : PositionTileConv256.MaxBlock)} filters";
            // The batch a call brings decides (WinogradFills); the graph's shapes do not say it.
            case WinogradLayer layer: return $"Winograd F(2x2, 3x3) (under {WinogradConv.MinTiles} tiles a thread: {(layer.Direct is null ? "GEMM over padded rows" : "direct tiles")})";
        }
        if (UsesGroupedPath) return UsesDepthwiseKernel ? "depthwise kernels" : "grouped im2col + GEMM";
        var o = OutputShape(inputs);
        int h = inputs[0][2], w = inputs[0][3];
        return DensePathFor(h, w, o[2], o[3]) switch
        {
            DensePath.Padded when derived is float[] => "direct tiles",
            DensePath.Padded => "GEMM over padded rows",
            DensePath.Strided => PaddedConv.DirectSupported ? "direct tiles at stride 2" : "GEMM over phase rows at stride 2",
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
        var path = DensePathFor(h, w, oh, ow);
        // The dense weight's direct tiles (not a kernel-column subset's, which the column tap lists take).
        bool dense = Columns is null, padded = dense && path == DensePath.Padded, tiled = padded || (dense && path == DensePath.Strided);
        // An inference session on frozen weights packs once, for all its executors; training packs every pass (the weights move).
        bool keep = state.FrozenWeights;
        // Positions-in-lanes kernels for frozen weights with most slices zero, filter counts that idle tile lanes, or
        // a kernel-column subset.
        object? plan = !keep ? null
            : tiled ? (object?)SliceTaps(weight, state, ow) ?? (object?)SliceSparse(weight, state, oh, ow) ?? (object?)PositionTiles256(weight, state, oh, ow)
                ?? (object?)Winograd(weight, state, oh, ow) ?? PositionTiles(weight, state, oh, ow)
            : IsOneByOne ? PointwiseTaps(weight, state, oh, ow)
            : ColumnTaps(weight, state);
        if (!keep && padded && TrainsWinograd(InChannels, OutChannels, n, h, w))
        {
            ForwardWinogradTraining(x.Data, weight, b, residual, y.Data, n, h, w);
            return y;
        }
        float[]? direct = null;
        if (plan is WinogradLayer winograd)
        {
            if (WinogradFills(n, h, w))
            {
                ForwardWinograd(x.Data, winograd.Plan, b, residual, y.Data, n, h, w);
                return y;
            }
            (plan, direct) = (null, winograd.Direct);
        }
        if (plan is not null)
        {
            Parallelism.For(chunks, c =>
            {
                var (start, end) = Range(n, chunks, c);
                ForwardPitched(x.Data, plan, b, residual, y.Data, start, end, h, w, oh, ow);
            });
            return y;
        }
        float[]? packed = direct ?? (keep && state.Derived is float[] kept ? kept
            : padded ? PackForDirect(weight, OutChannels, k, h, w, keep)
            : path != DensePath.Gemm && (path != DensePath.Strided || PaddedConv.DirectSupported) ? Pack(weight, OutChannels, k, keep) : null);
        if (keep && packed is not null && direct is null) packed = state.KeepDerived(packed);
        if (padded && n < Parallelism.Threads && (long)OutChannels * p * k >= SplitRowsMacs)
        {
            // Fewer images than threads: split each image's output rows instead, where a layer has the work for it.
            ForwardPaddedSplitRows(x.Data, weight, packed, b, residual, y.Data, n, h, w);
            if (!keep && packed is not null) BufferPool.Return(packed);
            return y;
        }
        Parallelism.For(chunks, c =>
        {
            var (start, end) = Range(n, chunks, c);
            switch (path)
            {
                case DensePath.Padded: ForwardPadded(x.Data, weight, packed, b, residual, y.Data, start, end, h, w); return;
                case DensePath.Strided: ForwardStrided(x.Data, weight, packed, b, residual, y.Data, start, end, h, w, oh, ow); return;
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

    // A [rows, depth] weight through Gemm.PackRows into a pooled buffer: the row GEMM's A, packed once for a call's images.
    private static float[] PackRows(float[] weight, int rows, int depth)
    {
        var packed = BufferPool.Rent(Gemm.PackedRowsLength(rows, depth));
        fixed (float* wp = weight, pp = packed) Gemm.PackRows(rows, depth, wp, depth, pp);
        return packed;
    }

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

    private bool UsesColumnsStrided => Columns is not null && IsUniform && StridedConv.Applies(KernelH, Stride, PadH) && PaddedConv.DirectSupported;

    // Stride-2 3x3 convolutions go through StridedConv forward and for the weight gradient; dx stays on im2col.
    private bool UsesStridedConv => Columns is null && IsUniform && StridedConv.Applies(KernelH, Stride, PadH);

    // Images [start, end) through StridedConv.Forward (the direct tiles' packing given) or, where the direct tiles do not
    // run (AVX2), StridedConv.ForwardRows with the weight packed once for all of them; the phase scratch is zeroed once.
    private void ForwardStrided(float[] x, float[] weight, float[]? packed, float[]? bias, float[]? residual, float[] y, int start, int end, int h, int w, int oh, int ow)
    {
        int length = StridedConv.PhasedLength(InChannels, oh, ow);
        var phased = BufferPool.Rent(length);
        Array.Clear(phased, 0, length);
        float[]? rowsWeight = packed is null ? PackRows(weight, OutChannels, K) : null;
        float** rows = stackalloc float*[packed is null ? K : 0];
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * oh * ow;
        fixed (float* xp = x, kp = packed, yp = y, pp = phased, bp = bias, rp = residual, rw = rowsWeight)
            for (int i = start; i < end; i++)
            {
                float* image = xp + i * inPlane, output = yp + i * outPlane, res = rp == null ? null : rp + i * outPlane;
                if (kp != null) StridedConv.Forward(image, InChannels, h, w, kp, OutChannels, output, pp, bp, FusedRelu, res, Columns);
                else StridedConv.ForwardRows(image, InChannels, h, w, rw, OutChannels, output, pp, rows, bp, FusedRelu, res);
                ClampToReluMax(output, outPlane);
            }
        if (rowsWeight is not null) BufferPool.Return(rowsWeight);
        BufferPool.Return(phased);
    }

    // Multiply-adds per image below which splitting an image's rows over threads cost more than it saved: at batch 1
    // on two Zen 5 cores vgg-small's layers (14-29 M) made it 1.5x faster split, ResNet-20 and -56 (layers up to 2.4 M) 1.4x slower.
    private const long SplitRowsMacs = 4_000_000;

    // Each image through PaddedConv.ForwardSplitRows (the direct tiles' packing given) or ForwardSplitRowsGemm: its
    // output rows shared by the threads.
    private void ForwardPaddedSplitRows(float[] x, float[] weight, float[]? packed, float[]? bias, float[]? residual, float[] y, int n, int h, int w)
    {
        var padded = BufferPool.Rent(PaddedConv.PaddedLength(InChannels, h, w, Kernel));
        float[]? rowsWeight = packed is null ? PackRows(weight, OutChannels, K) : null;
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * h * w;
        fixed (float* xp = x, kp = packed, yp = y, pp = padded, bp = bias, rp = residual, rw = rowsWeight)
            for (int i = 0; i < n; i++)
            {
                float* image = xp + i * inPlane, output = yp + i * outPlane, res = rp == null ? null : rp + i * outPlane;
                if (kp != null) PaddedConv.ForwardSplitRows(image, InChannels, h, w, Kernel, kp, OutChannels, output, pp, Parallelism.Threads, bp, FusedRelu, res);
                else PaddedConv.ForwardSplitRowsGemm(image, InChannels, h, w, Kernel, rw, OutChannels, output, pp, Parallelism.Threads, bp, FusedRelu, res);
                ClampToReluMax(output, outPlane);
            }
        if (rowsWeight is not null) BufferPool.Return(rowsWeight);
        BufferPool.Return(padded);
    }

    // Images [start, end) through PaddedConv.Forward, bias, residual and fused ReLU included.
    private void ForwardPadded(float[] x, float[] weight, float[]? packed, float[]? bias, float[]? residual, float[] y, int start, int end, int h, int w)
    {
        var padded = BufferPool.Rent(PaddedConv.PaddedLength(InChannels, h, w, Kernel));
        float** rows = stackalloc float*[packed is null ? K : 0];
        // The GEMM's weight packed once for all the images.
        float[]? rowsWeight = packed is null ? PackRows(weight, OutChannels, K) : null;
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * h * w;
        fixed (float* xp = x, wp = weight, kp = packed, yp = y, pp = padded, bp = bias, rp = residual, rw = rowsWeight)
            for (int i = start; i < end; i++)
            {
                PaddedConv.Forward(xp + i * inPlane, InChannels, h, w, Kernel, rw != null ? rw : wp, kp, OutChannels, yp + i * outPlane, pp, rows, bp, FusedRelu,
                    rp == null ? null : rp + i * outPlane, Columns, weightPacked: rw != null);
                ClampToReluMax(yp + i * outPlane, outPlane);
            }
        if (rowsWeight is not null) BufferPool.Return(rowsWeight);
        BufferPool.Return(padded);
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
}
