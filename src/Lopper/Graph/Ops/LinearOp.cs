using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>Fully connected layer: y = x W^T + b, x is [N, in].</summary>
public sealed unsafe class LinearOp(int inFeatures, int outFeatures, bool bias = true) : Op
{
    /// <summary>Input features.</summary>
    public int InFeatures { get; } = inFeatures;
    /// <summary>Output features.</summary>
    public int OutFeatures { get; } = outFeatures;
    /// <summary>Whether the op has a bias.</summary>
    public bool HasBias { get; } = bias;

    /// <inheritdoc/>
    public override string Type => "linear";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.Produces;

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        if (s.Length != 2) throw ShapeError($"expects [N,features], got {Tensor.Format(s)} (add a flatten first)");
        if (s[1] != InFeatures) throw ShapeError($"expects {InFeatures} input features, got {s[1]}");
        return [s[0], OutFeatures];
    }

    /// <inheritdoc/>
    public override IReadOnlyList<ParamSpec> Parameters(IReadOnlyList<int[]> inputs)
    {
        var w = new ParamSpec("weight", [OutFeatures, InFeatures], ParamInit.UniformFanIn, true, 0, 1, InFeatures, OutFeatures);
        if (!HasBias) return [w];
        return [w, new ParamSpec("bias", [OutFeatures], ParamInit.UniformFanIn, true, 0, -1, InFeatures)];
    }

    /// <inheritdoc/>
    public override long Macs(IReadOnlyList<int[]> inputs) => (long)inputs[0][0] * InFeatures * OutFeatures;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        int n = x.Shape[0];
        var y = Tensor.Pooled(OutputShape([x.Shape]));
        fixed (float* xp = x.Data, wp = parameters[0].Data, yp = y.Data)
            Gemm.Multiply(false, true, n, OutFeatures, InFeatures, xp, InFeatures, wp, InFeatures, yp, OutFeatures, false);
        if (HasBias)
        {
            var b = parameters[1].Span;
            for (int i = 0; i < n; i++)
            {
                var row = y.Span.Slice(i * OutFeatures, OutFeatures);
                TensorPrimitives.Add(row, b, row);
            }
        }
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        var x = inputs[0];
        int n = x.Shape[0];
        Tensor? dx = state.NeedsInputGrad[0] ? Tensor.Pooled(x.Shape) : null;
        fixed (float* xp = x.Data, wp = parameters[0].Data, gp = gradOut.Data)
        {
            if (paramGrads[0] is { } dW)
                fixed (float* dwp = dW.Data)
                    Gemm.Multiply(true, false, OutFeatures, InFeatures, n, gp, OutFeatures, xp, InFeatures, dwp, InFeatures, false);
            if (dx is not null)
                fixed (float* dxp = dx.Data)
                    Gemm.Multiply(false, false, n, InFeatures, OutFeatures, gp, OutFeatures, wp, InFeatures, dxp, InFeatures, false);
        }
        if (HasBias && paramGrads[1] is { } db)
        {
            var dbs = db.Span;
            dbs.Clear();
            for (int i = 0; i < n; i++) TensorPrimitives.Add(dbs, gradOut.Span.Slice(i * OutFeatures, OutFeatures), dbs);
        }
        return [dx];
    }

    /// <inheritdoc/>
    public override Op Resized(int[] inChannels, int outChannels) => new LinearOp(inChannels[0], outChannels, HasBias);

    /// <inheritdoc/>
    public override JsonObject Attributes() => new() { ["in_features"] = InFeatures, ["out_features"] = OutFeatures, ["bias"] = HasBias };

    /// <summary>Reads the op from model.json attributes.</summary>
    public static LinearOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "linear");
        var op = new LinearOp(a.Int("in_features", 1, int.MaxValue), a.Int("out_features", 1, OpAttributes.MaxSize), a.Bool("bias", true));
        a.Done();
        return op;
    }
}
