using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>
/// The grouped, depthwise and dilated path of <see cref="Conv2dOp"/>: per image and per group, a dilated im2col
/// of the group's input channels and one GEMM against the group's filters. Kept apart from the dense path so
/// that its tuned kernels stay untouched. Depthwise convolutions (groups == in channels) are memory-bound and
/// would waste a GEMM formulation: they go to <see cref="DepthwiseConv"/>, which reads each plane once.
/// </summary>
public sealed unsafe partial class Conv2dOp
{
    private bool UsesGroupedPath => Groups != 1 || Dilation != 1;

    // The depthwise kernel takes square kernels with equal padding; other depthwise convolutions run on the grouped GEMM.
    private bool UsesDepthwiseKernel => IsDepthwise && IsUniform;

    private DepthwiseGeometry DepthwiseShape(Tensor x)
        => new(x.Shape[0], InChannels, OutChannels / InChannels, x.Shape[2], x.Shape[3], Kernel, Stride, Padding, Dilation);

    private Tensor ForwardGrouped(Tensor[] inputs, Tensor[] parameters)
    {
        var x = inputs[0];
        var shape = OutputShapeOf(inputs);
        var y = Tensor.Pooled(shape);
        if (UsesDepthwiseKernel)
        {
            DepthwiseConv.Forward(x.Span, parameters[0].Span, HasBias ? parameters[1].Span : default, y.Span, DepthwiseShape(x));
            if (AddsResidual || FusedRelu) DepthwiseEpilogue(y, AddsResidual ? inputs[1] : null);
            return y;
        }
        int n = x.Shape[0], h = x.Shape[2], w = x.Shape[3], oh = shape[2], ow = shape[3], p = oh * ow;
        int inG = InChannels / Groups, outG = OutChannels / Groups, k = K;
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * p;
        var weight = parameters[0].Data;
        float[]? b = HasBias ? parameters[1].Data : null;
        float[]? residual = AddsResidual ? inputs[1].Data : null;
        int chunks = ChunksFor(n);
        Parallelism.For(chunks, c =>
        {
            var (start, end) = Range(n, chunks, c);
            var cols = BufferPool.Rent(k * p);
            fixed (float* xp = x.Data, yp = y.Data, wp = weight, cp = cols, rp = residual)
            {
                for (int i = start; i < end; i++)
                {
                    float* yi = yp + i * outPlane;
                    for (int g = 0; g < Groups; g++)
                    {
                        UnfoldDilated(xp + i * inPlane + (long)g * inG * h * w, inG, h, w, oh, ow, cp);
                        Gemm.Multiply(false, false, outG, p, k, wp + (long)g * outG * k, k, cp, p, yi + (long)g * outG * p, p, false);
                    }
                    Epilogue(yi, p, b, rp == null ? null : rp + i * outPlane);
                }
            }
            BufferPool.Return(cols);
        });
        return y;
    }

    // The residual add and ReLU of a folded depthwise convolution (the kernel has already added the bias).
    private void DepthwiseEpilogue(Tensor y, Tensor? residual)
    {
        float[] yd = y.Data;
        float[]? rd = residual?.Data;
        bool relu = FusedRelu, clip = relu && !float.IsPositiveInfinity(ReluMax);
        float max = ReluMax;
        Parallelism.ForSlices(y.Length, (s, n) =>
        {
            var part = yd.AsSpan(s, n);
            if (rd is not null) TensorPrimitives.Add(part, rd.AsSpan(s, n), part);
            if (clip) TensorPrimitives.Clamp(part, 0f, max, part);
            else if (relu) TensorPrimitives.Max(part, 0f, part);
        });
    }

    // dx (when given) and dW (when given, written) of the grouped path; the bias is left to FinishBackward.
    private void BackwardGrouped(Tensor x, Tensor gradOut, float[] weight, Tensor? dx, Tensor? dW, int oh, int ow)
    {
        if (UsesDepthwiseKernel)
        {
            var geometry = DepthwiseShape(x);
            if (dx is not null) DepthwiseConv.InputGradient(gradOut.Span, weight, dx.Span, geometry);
            if (dW is not null) DepthwiseConv.WeightGradient(x.Span, gradOut.Span, dW.Span, default, geometry);
            return;
        }
        int n = x.Shape[0], h = x.Shape[2], w = x.Shape[3], p = oh * ow;
        int inG = InChannels / Groups, outG = OutChannels / Groups, k = K;
        long inPlane = (long)InChannels * h * w, outPlane = (long)OutChannels * p, groupIn = (long)inG * h * w;
        int chunks = ChunksFor(n);
        // One weight-gradient partial per chunk, summed in chunk order: deterministic for a thread count.
        var partials = new float[chunks][];
        Parallelism.For(chunks, c =>
        {
            var (start, end) = Range(n, chunks, c);
            var cols = BufferPool.Rent(k * p);
            float[]? partial = dW is null ? null : BufferPool.RentZeroed(OutChannels * k);
            partials[c] = partial!;
            fixed (float* xp = x.Data, gp = gradOut.Data, wp = weight, cp = cols, dwp = partial, dxp = dx is null ? null : dx.Data)
            {
                for (int i = start; i < end; i++)
                {
                    float* gi = gp + i * outPlane;
                    if (dxp != null) new Span<float>(dxp + i * inPlane, (int)inPlane).Clear();
                    for (int g = 0; g < Groups; g++)
                    {
                        float* gg = gi + (long)g * outG * p;
                        if (dwp != null)
                        {
                            UnfoldDilated(xp + i * inPlane + g * groupIn, inG, h, w, oh, ow, cp);
                            Gemm.Multiply(false, true, outG, k, p, gg, p, cp, p, dwp + (long)g * outG * k, k, true);
                        }
                        if (dxp != null)
                        {
                            Gemm.Multiply(true, false, k, p, outG, wp + (long)g * outG * k, k, gg, p, cp, p, false);
                            FoldAddDilated(cp, inG, h, w, oh, ow, dxp + i * inPlane + g * groupIn);
                        }
                    }
                }
            }
            BufferPool.Return(cols);
        });
        if (dW is null) return;
        var sum = partials[0];
        for (int c = 1; c < chunks; c++)
        {
            TensorPrimitives.Add(sum.AsSpan(0, OutChannels * k), partials[c].AsSpan(0, OutChannels * k), sum.AsSpan(0, OutChannels * k));
            BufferPool.Return(partials[c]);
        }
        sum.AsSpan(0, OutChannels * k).CopyTo(dW.Span);
        BufferPool.Return(sum);
    }

    // Row (c*kh + ky)*kw + kx, column oy*ow + ox of the dilated column matrix: x[c, oy*s - padH + ky*d, ox*s - padW + kx*d], 0 outside.
    private void UnfoldDilated(float* image, int channels, int h, int w, int oh, int ow, float* cols)
    {
        int kh = KernelH, kw = KernelW, s = Stride, padH = PadH, padW = PadW, d = Dilation;
        for (int c = 0; c < channels; c++)
            for (int ky = 0; ky < kh; ky++)
                for (int kx = 0; kx < kw; kx++)
                {
                    float* row = cols + (long)((c * kh + ky) * kw + kx) * oh * ow;
                    float* plane = image + (long)c * h * w;
                    for (int oy = 0; oy < oh; oy++)
                    {
                        int iy = oy * s - padH + ky * d;
                        float* dst = row + oy * ow;
                        if (iy < 0 || iy >= h) { new Span<float>(dst, ow).Clear(); continue; }
                        float* src = plane + iy * w;
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int ix = ox * s - padW + kx * d;
                            dst[ox] = ix >= 0 && ix < w ? src[ix] : 0f;
                        }
                    }
                }
    }

    // The transpose of UnfoldDilated: adds every in-image entry of the column matrix into its input position.
    private void FoldAddDilated(float* cols, int channels, int h, int w, int oh, int ow, float* image)
    {
        int kh = KernelH, kw = KernelW, s = Stride, padH = PadH, padW = PadW, d = Dilation;
        for (int c = 0; c < channels; c++)
            for (int ky = 0; ky < kh; ky++)
                for (int kx = 0; kx < kw; kx++)
                {
                    float* row = cols + (long)((c * kh + ky) * kw + kx) * oh * ow;
                    float* plane = image + (long)c * h * w;
                    for (int oy = 0; oy < oh; oy++)
                    {
                        int iy = oy * s - padH + ky * d;
                        if (iy < 0 || iy >= h) continue;
                        float* src = row + oy * ow;
                        float* dst = plane + iy * w;
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int ix = ox * s - padW + kx * d;
                            if (ix >= 0 && ix < w) dst[ix] += src[ox];
                        }
                    }
                }
    }
}
