using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>Average pooling with a square window and stride, no padding.</summary>
public sealed class AvgPool2dOp(int kernel, int stride) : Op
{
    /// <summary>Window size.</summary>
    public int Kernel { get; } = kernel;
    /// <summary>Stride.</summary>
    public int Stride { get; } = stride;

    /// <inheritdoc/>
    public override string Type => "avgpool2d";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        if (s.Length != 4) throw ShapeError($"expects [N,C,H,W], got {Tensor.Format(s)}");
        int oh = (s[2] - Kernel) / Stride + 1, ow = (s[3] - Kernel) / Stride + 1;
        if (oh < 1 || ow < 1) throw ShapeError($"input {s[2]}x{s[3]} too small for window {Kernel}");
        return [s[0], s[1], oh, ow];
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var shape = OutputShape([x.Shape]);
        var y = Tensor.Pooled(shape);
        int planes = shape[0] * shape[1], h = x.Shape[2], w = x.Shape[3], oh = shape[2], ow = shape[3];
        float inv = 1f / (Kernel * Kernel);
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
            {
                float sum = 0;
                for (int ky = 0; ky < Kernel; ky++)
                    for (int kx = 0; kx < Kernel; kx++)
                        sum += x.Data[p * h * w + (oy * Stride + ky) * w + ox * Stride + kx];
                y.Data[p * oh * ow + oy * ow + ox] = sum * inv;
            }
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        var x = inputs[0];
        var dx = Tensor.Pooled(x.Shape, zero: true);
        int planes = output.Shape[0] * output.Shape[1], h = x.Shape[2], w = x.Shape[3], oh = output.Shape[2], ow = output.Shape[3];
        float inv = 1f / (Kernel * Kernel);
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
            {
                float g = gradOut.Data[p * oh * ow + oy * ow + ox] * inv;
                for (int ky = 0; ky < Kernel; ky++)
                    for (int kx = 0; kx < Kernel; kx++)
                        dx.Data[p * h * w + (oy * Stride + ky) * w + ox * Stride + kx] += g;
            }
        return [dx];
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new() { ["kernel"] = Kernel, ["stride"] = Stride };

    /// <summary>Reads the op from model.json attributes.</summary>
    public static AvgPool2dOp FromJson(JsonObject a) => new(Int(a, "kernel", "avgpool2d"), Int(a, "stride", Int(a, "kernel", "avgpool2d")));
}
