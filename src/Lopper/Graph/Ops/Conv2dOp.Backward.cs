using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

// The dense backward pass of Conv2dOp: input and weight gradients through the padded direct tiles, StridedConv's
// weight gradient or im2col + GEMM, kernel-column subsets as the dense weight with their pruned columns zero.
public sealed unsafe partial class Conv2dOp
{
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
        // The input gradient's GEMM weight packed once for all the images.
        int flippedDepth = OutChannels * Kernel * Kernel;
        float[]? rowsFlipped = gemmDx ? PackRows(flipped!, InChannels, flippedDepth) : null;
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * h * w;
        fixed (float* xp = x, gp = gradOut, fp = flipped, kp = packedFlipped, dxp = dx, dwp = partial, pg = paddedGrad, px = paddedX, rf = rowsFlipped)
            for (int i = start; i < end; i++)
                PaddedConv.Backward(xp + i * inPlane, gp + i * outPlane, InChannels, OutChannels, h, w, Kernel,
                    rf != null ? rf : fp, kp, dxp == null ? null : dxp + i * inPlane, dwp, pg, px, rows, flippedPacked: rf != null);
        if (rowsFlipped is not null) BufferPool.Return(rowsFlipped);
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
        // The input gradient through Winograd where training's forward takes it (AVX2 parts), before the per-chunk
        // weight gradients; else through the padded rows with the other products.
        bool winogradDx = needX && padded && !columnsPadded && TrainsWinograd(OutChannels, InChannels, n, h, w);
        if (winogradDx) InputGradientWinograd(gradOut.Data, weight, dx!.Data, n, h, w);
        else if (needX && padded)
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
            bool colsGrad = needX && flipped is null && !winogradDx, colsW = dW is not null && !tapMajorW;
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
}
