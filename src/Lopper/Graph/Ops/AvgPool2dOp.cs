using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// Average pooling with a square window, stride and zero padding, with PyTorch's semantics: in ceil mode the
/// last windows may hang over the bottom and right edges; the divisor is the window's area clipped to the padded
/// image when <see cref="CountIncludePad"/> (PyTorch's default), else the number of in-image elements.
/// </summary>
public sealed class AvgPool2dOp(int kernel, int stride, int padding = 0, bool ceilMode = false, bool countIncludePad = true) : Op
{
    /// <summary>Window size.</summary>
    public int Kernel { get; } = Checked(kernel, stride, padding);
    /// <summary>Stride.</summary>
    public int Stride { get; } = stride;
    /// <summary>Zero padding on each side.</summary>
    public int Padding { get; } = padding;
    /// <summary>Output size rounds up, as PyTorch's ceil_mode.</summary>
    public bool CeilMode { get; } = ceilMode;
    /// <summary>Padding zeros count in the divisor (PyTorch's count_include_pad).</summary>
    public bool CountIncludePad { get; } = countIncludePad;

    private static int Checked(int kernel, int stride, int padding)
    {
        PoolWindow.Check("avgpool2d", kernel, stride, padding);
        return kernel;
    }

    /// <inheritdoc/>
    public override string Type => "avgpool2d";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs) =>
        PoolWindow.OutputShape(inputs[0], Kernel, Stride, Padding, CeilMode, ShapeError);

    // Window [lo, hi) along one axis clipped to the image, and its extent for the divisor.
    private (int Lo, int Hi, int Extent) Window(int o, int size)
    {
        int start = o * Stride - Padding, end = Math.Min(start + Kernel, size + Padding);
        int extent = end - start;
        int lo = Math.Max(start, 0), hi = Math.Min(end, size);
        return (lo, hi, CountIncludePad ? extent : hi - lo);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var shape = OutputShape([x.Shape]);
        var y = Tensor.Pooled(shape);
        int planes = shape[0] * shape[1], h = x.Shape[2], w = x.Shape[3], oh = shape[2], ow = shape[3];
        for (int oy = 0; oy < oh; oy++)
        {
            var (y0, y1, ey) = Window(oy, h);
            for (int ox = 0; ox < ow; ox++)
            {
                var (x0, x1, ex) = Window(ox, w);
                float inv = 1f / (ey * ex);
                for (int p = 0; p < planes; p++)
                {
                    float sum = 0;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) sum += x.Data[p * h * w + iy * w + ix];
                    y.Data[p * oh * ow + oy * ow + ox] = sum * inv;
                }
            }
        }
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        var x = inputs[0];
        var dx = Tensor.Pooled(x.Shape, zero: true);
        int h = x.Shape[2], w = x.Shape[3];
        var shape = OutputShape([x.Shape]);
        int planes = shape[0] * shape[1], oh = shape[2], ow = shape[3];
        for (int oy = 0; oy < oh; oy++)
        {
            var (y0, y1, ey) = Window(oy, h);
            for (int ox = 0; ox < ow; ox++)
            {
                var (x0, x1, ex) = Window(ox, w);
                float inv = 1f / (ey * ex);
                for (int p = 0; p < planes; p++)
                {
                    float g = gradOut.Data[p * oh * ow + oy * ow + ox] * inv;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) dx.Data[p * h * w + iy * w + ix] += g;
                }
            }
        }
        return [dx];
    }

    /// <inheritdoc/>
    public override JsonObject Attributes()
    {
        var a = new JsonObject { ["kernel"] = Kernel, ["stride"] = Stride };
        if (Padding != 0) a["padding"] = Padding;
        if (CeilMode) a["ceil_mode"] = true;
        if (!CountIncludePad) a["count_include_pad"] = false;
        return a;
    }

    /// <summary>Reads the op from model.json attributes (stride defaults to the kernel, as in PyTorch).</summary>
    public static AvgPool2dOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "avgpool2d");
        int kernel = a.Int("kernel", 1, OpAttributes.MaxSize);
        var op = new AvgPool2dOp(kernel, a.Int("stride", kernel, 1, OpAttributes.MaxSize), a.Int("padding", 0, 0, OpAttributes.MaxSize),
            a.Bool("ceil_mode", false), a.Bool("count_include_pad", true));
        a.Done();
        return op;
    }
}
