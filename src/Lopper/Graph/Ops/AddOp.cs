using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>Elementwise sum of two or more same-shaped inputs (residual joins). Ties their channels.</summary>
/// <param name="relu">ReLU applied to the sum (fused by inference folding: a residual join's ReLU then costs no pass).</param>
public sealed class AddOp(bool relu = false) : Op
{
    /// <summary>ReLU applied to the sum.</summary>
    public bool FusedRelu { get; } = relu;

    /// <inheritdoc/>
    public override string Type => "add";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.Tied(inputs[input][1]);
    /// <inheritdoc/>
    public override int Arity => -1;

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        for (int i = 1; i < inputs.Count; i++)
            if (!inputs[i].AsSpan().SequenceEqual(inputs[0]))
                throw ShapeError($"input shapes differ: {Tensor.Format(inputs[0])} vs {Tensor.Format(inputs[i])}");
        return inputs[0];
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var y = Tensor.Pooled(inputs[0].Shape);
        float[] a = inputs[0].Data, b = inputs[1].Data, yd = y.Data;
        bool reluNow = FusedRelu && inputs.Length == 2;
        Parallelism.ForSlices(y.Length, (s, n) =>
        {
            if (reluNow) Simd.AddRelu(a.AsSpan(s, n), b.AsSpan(s, n), yd.AsSpan(s, n));
            else TensorPrimitives.Add(a.AsSpan(s, n), b.AsSpan(s, n), yd.AsSpan(s, n));
            for (int i = 2; i < inputs.Length; i++) TensorPrimitives.Add(yd.AsSpan(s, n), inputs[i].Data.AsSpan(s, n), yd.AsSpan(s, n));
            if (FusedRelu && !reluNow) TensorPrimitives.Max(yd.AsSpan(s, n), 0f, yd.AsSpan(s, n));
        });
        return y;
    }

    /// <inheritdoc/>
    public override bool BackwardReadsInputs => false;

    /// <inheritdoc/>
    public override bool BackwardReadsOutput => FusedRelu;

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        // With a fused ReLU the gradient is first masked by the output; gradOut is ours to overwrite.
        if (FusedRelu) Simd.ParallelReluBackward(output, gradOut);
        var grads = new Tensor?[inputs.Length];
        bool handedOver = false;
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!state.NeedsInputGrad[i]) continue;
            if (!handedOver) { grads[i] = gradOut; handedOver = true; continue; }
            var copy = Tensor.Pooled(gradOut.Shape);
            float[] from = gradOut.Data, to = copy.Data;
            Parallelism.ForSlices(copy.Length, (s, n) => from.AsSpan(s, n).CopyTo(to.AsSpan(s, n)));
            grads[i] = copy;
        }
        return grads;
    }

    /// <inheritdoc/>
    public override JsonObject Attributes() => FusedRelu ? new() { ["relu"] = true } : new();

    /// <summary>Reads the op from model.json attributes.</summary>
    public static AddOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "add");
        var op = new AddOp(a.Bool("relu", false));
        a.Done();
        return op;
    }
}
