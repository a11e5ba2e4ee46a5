using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// Average pooling to a fixed output size [oh, ow], with PyTorch's bins: output row i averages input rows
/// floor(i*H/oh) to ceil((i+1)*H/oh) - 1 (bins may overlap when H is not a multiple of oh), columns likewise.
/// Backward reads neither input nor output values, only the input shape, which forward saves.
/// </summary>
public sealed class AdaptiveAvgPoolOp : Op
{
    /// <summary>Creates the op for an output of <paramref name="outHeight"/> x <paramref name="outWidth"/>.</summary>
    public AdaptiveAvgPoolOp(int outHeight, int outWidth)
    {
        if (outHeight < 1 || outWidth < 1)
            throw new LopperInputException($"op adaptiveavgpool: output_size must be positive, got [{outHeight}, {outWidth}]");
        OutHeight = outHeight;
        OutWidth = outWidth;
    }

    /// <summary>Output height.</summary>
    public int OutHeight { get; }
    /// <summary>Output width.</summary>
    public int OutWidth { get; }

    /// <inheritdoc/>
    public override string Type => "adaptiveavgpool";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);
    /// <inheritdoc/>
    public override bool BackwardReadsInputs => false;
    /// <inheritdoc/>
    public override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        if (s.Length != 4) throw ShapeError($"expects [N,C,H,W], got {Tensor.Format(s)}");
        return [s[0], s[1], OutHeight, OutWidth];
    }

    /// <summary>First input index of bin <paramref name="i"/> of <paramref name="bins"/> over <paramref name="size"/>.</summary>
    public static int BinStart(int i, int size, int bins) => (int)((long)i * size / bins);

    /// <summary>One past the last input index of bin <paramref name="i"/> (ceil((i+1)*size/bins)).</summary>
    public static int BinEnd(int i, int size, int bins) => (int)(((long)(i + 1) * size + bins - 1) / bins);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var shape = OutputShape([x.Shape]);
        var y = Tensor.Pooled(shape);
        int h = x.Shape[2], w = x.Shape[3], oh = OutHeight, ow = OutWidth;
        float[] xd = x.Data, yd = y.Data;
        ForPlanes(shape[0] * shape[1], (p0, p1) =>
        {
            for (int p = p0; p < p1; p++)
            {
                var plane = xd.AsSpan(p * h * w, h * w);
                for (int i = 0; i < oh; i++)
                {
                    int y0 = BinStart(i, h, oh), y1 = BinEnd(i, h, oh);
                    for (int j = 0; j < ow; j++)
                    {
                        int x0 = BinStart(j, w, ow), x1 = BinEnd(j, w, ow);
                        float sum = 0;
                        for (int r = y0; r < y1; r++) sum += TensorPrimitives.Sum(plane.Slice(r * w + x0, x1 - x0));
                        yd[(p * oh + i) * ow + j] = sum / ((y1 - y0) * (x1 - x0));
                    }
                }
            }
        });
        if (state.WillBackward) state.Saved = x.Shape;
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (!state.NeedsInputGrad[0]) return [null];
        var inShape = state.Saved as int[] ?? throw new InvalidOperationException("adaptiveavgpool backward without a forward kept for it");
        var dx = Tensor.Pooled(inShape, zero: true);
        int h = inShape[2], w = inShape[3], oh = OutHeight, ow = OutWidth;
        float[] dd = dx.Data, g = gradOut.Data;
        ForPlanes(inShape[0] * inShape[1], (p0, p1) =>
        {
            for (int p = p0; p < p1; p++)
            {
                var plane = dd.AsSpan(p * h * w, h * w);
                for (int i = 0; i < oh; i++)
                {
                    int y0 = BinStart(i, h, oh), y1 = BinEnd(i, h, oh);
                    for (int j = 0; j < ow; j++)
                    {
                        int x0 = BinStart(j, w, ow), x1 = BinEnd(j, w, ow);
                        float share = g[(p * oh + i) * ow + j] / ((y1 - y0) * (x1 - x0));
                        for (int r = y0; r < y1; r++)
                        {
                            var row = plane.Slice(r * w + x0, x1 - x0);
                            TensorPrimitives.Add(row, share, row);
                        }
                    }
                }
            }
        });
        return [dx];
    }

    // Planes split over threads in contiguous runs, inline for small tensors.
    private static void ForPlanes(int planes, Action<int, int> body)
    {
        int chunks = Math.Min(Parallelism.Threads, planes);
        if (chunks <= 1) { body(0, planes); return; }
        Parallelism.For(chunks, c => body((int)((long)planes * c / chunks), (int)((long)planes * (c + 1) / chunks)));
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => new() { ["output_size"] = new JsonArray(OutHeight, OutWidth) };

    /// <summary>Reads the op from model.json attributes: output_size [oh, ow] ([s] for a square output).</summary>
    public static AdaptiveAvgPoolOp FromJson(JsonObject a)
    {
        var r = new OpAttributes(a, "adaptiveavgpool");
        var size = r.Ints("output_size", required: true, 1, OpAttributes.MaxSize)!;
        r.Done();
        return size.Length switch
        {
            1 => new AdaptiveAvgPoolOp(size[0], size[0]),
            2 => new AdaptiveAvgPoolOp(size[0], size[1]),
            _ => throw new LopperInputException("op adaptiveavgpool: attribute 'output_size' must be [height, width]"),
        };
    }
}
