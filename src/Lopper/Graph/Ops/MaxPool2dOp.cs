using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>
/// Max pooling with square window, stride and implicit -inf padding, optionally in ceil mode (PyTorch's
/// output size rule); backward routes to the argmax.
/// </summary>
public sealed unsafe class MaxPool2dOp(int kernel, int stride, int padding = 0, bool ceilMode = false) : Op
{
    /// <summary>Window size.</summary>
    public int Kernel { get; } = Checked(kernel, stride, padding);

    private static int Checked(int kernel, int stride, int padding)
    {
        PoolWindow.Check("maxpool2d", kernel, stride, padding);
        return kernel;
    }

    /// <summary>Output size rounds up (windows may hang over the bottom and right edges), as PyTorch's ceil_mode.</summary>
    public bool CeilMode { get; } = ceilMode;
    /// <summary>Stride.</summary>
    public int Stride { get; } = stride;
    /// <summary>Padding on each side.</summary>
    public int Padding { get; } = padding;

    /// <inheritdoc/>
    public override string Type => "maxpool2d";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs) =>
        PoolWindow.OutputShape(inputs[0], Kernel, Stride, Padding, CeilMode, ShapeError);

    // 2x2 windows at stride 2 (VGG, LeNet) have a vector kernel whose backward needs no saved argmax.
    private bool IsPairPool => Kernel == 2 && Stride == 2 && Padding == 0 && !CeilMode;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var shape = OutputShape([x.Shape]);
        var y = Tensor.Pooled(shape);
        if (IsPairPool)
        {
            int n = shape[0] * shape[1], ih = x.Shape[2], iw = x.Shape[3], inPlane = ih * iw, outPlane = shape[2] * shape[3];
            int chunks = Math.Min(n, 64);
            Parallelism.For(chunks, chunk =>
            {
                var (s, e) = Conv2dOp.Range(n, chunks, chunk);
                fixed (float* xp = x.Data, yp = y.Data)
                    for (int p = s; p < e; p++) MaxPool2x2.Forward(xp + (long)p * inPlane, ih, iw, yp + (long)p * outPlane);
            });
            return y;
        }
        // Argmax stored as float: plane offsets stay far below 2^24, where floats are exact.
        var arg = state.WillBackward ? state.Keep(Tensor.Pooled(shape)) : null;
        int planes = shape[0] * shape[1], h = x.Shape[2], w = x.Shape[3], oh = shape[2], ow = shape[3];
        Parallelism.For(Math.Min(planes, 64), chunk =>
        {
            var (s, e) = Conv2dOp.Range(planes, Math.Min(planes, 64), chunk);
            for (int p = s; p < e; p++)
            {
                var src = x.Data.AsSpan(p * h * w, h * w);
                var dst = y.Data.AsSpan(p * oh * ow, oh * ow);
                for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    float best = float.NegativeInfinity; int bi = -1;
                    int y0 = oy * Stride - Padding, x0 = ox * Stride - Padding;
                    for (int ky = 0; ky < Kernel; ky++)
                    {
                        int iy = y0 + ky;
                        if ((uint)iy >= (uint)h) continue;
                        for (int kx = 0; kx < Kernel; kx++)
                        {
                            int ix = x0 + kx;
                            if ((uint)ix >= (uint)w) continue;
                            float v = src[iy * w + ix];
                            if (v > best || bi < 0) { best = v; bi = iy * w + ix; }
                        }
                    }
                    dst[oy * ow + ox] = best;
                    if (arg is not null) arg.Data[p * oh * ow + oy * ow + ox] = bi;
                }
            }
        });
        state.Saved = arg;
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        var x = inputs[0];
        if (IsPairPool)
        {
            var dxp = Tensor.Pooled(x.Shape);
            int n = output.Shape[0] * output.Shape[1], ih = x.Shape[2], iw = x.Shape[3], inPlane = ih * iw, outPlane = output.Shape[2] * output.Shape[3];
            int chunks = Math.Min(n, 64);
            Parallelism.For(chunks, chunk =>
            {
                var (s, e) = Conv2dOp.Range(n, chunks, chunk);
                fixed (float* xp = x.Data, yp = output.Data, gp = gradOut.Data, dp = dxp.Data)
                    for (int p = s; p < e; p++)
                        MaxPool2x2.Backward(xp + (long)p * inPlane, ih, iw, yp + (long)p * outPlane, gp + (long)p * outPlane, dp + (long)p * inPlane);
            });
            return [dxp];
        }
        var arg = (Tensor)state.Saved!;
        var dx = Tensor.Pooled(x.Shape, zero: true);
        int planes = output.Shape[0] * output.Shape[1], hw = x.Shape[2] * x.Shape[3], ohw = output.Shape[2] * output.Shape[3];
        Parallelism.For(Math.Min(planes, 64), chunk =>
        {
            var (s, e) = Conv2dOp.Range(planes, Math.Min(planes, 64), chunk);
            for (int p = s; p < e; p++)
                for (int i = 0; i < ohw; i++)
                    dx.Data[p * hw + (int)arg.Data[p * ohw + i]] += gradOut.Data[p * ohw + i];
        });
        return [dx];
    }

    /// <inheritdoc/>
    public override JsonObject Attributes()
    {
        var a = new JsonObject { ["kernel"] = Kernel, ["stride"] = Stride, ["padding"] = Padding };
        if (CeilMode) a["ceil_mode"] = true;
        return a;
    }

    /// <summary>Reads the op from model.json attributes (stride defaults to the kernel, as in PyTorch).</summary>
    public static MaxPool2dOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "maxpool2d");
        int kernel = a.Int("kernel", 1, OpAttributes.MaxSize);
        var op = new MaxPool2dOp(kernel, a.Int("stride", kernel, 1, OpAttributes.MaxSize), a.Int("padding", 0, 0, OpAttributes.MaxSize), a.Bool("ceil_mode", false));
        a.Done();
        return op;
    }
}
