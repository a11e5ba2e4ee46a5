using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// A Bernoulli gate (complexity-aware pruning, Guenter and Sideris 2024): y[n,c,...] = x[n,c,...] * xi[n,g(c)],
/// with one gate per channel (<see cref="Gates"/> = channels: unit gates) or one for the whole tensor
/// (<see cref="Gates"/> = 1: a residual-block gate). In training the 0/1 samples xi come from the
/// <c>mask</c> buffer, which the training hook fills every step (so gate nodes of one coupled channel group,
/// which share a <see cref="Key"/>, see the same sample); in inference the gate is its mean, theta, where
/// theta &gt;= 0.5 and 0 below (the spec's deterministic rule rounds to 1 instead: the mean is what the layers
/// after the gate, batch-norm statistics included, saw during training, which matters while many gates are
/// still fractional, and it folds into the producing layer exactly).
/// Backward writes into theta's gradient the gate-derivative estimate of the data-loss gradient,
/// sum over examples and positions of dL/dy * x (estimator A of the spec: exact when the loss is affine in
/// the gate). The op never moves theta itself; the hook does (projected SGD), so theta must be kept
/// away from the optimizer. <c>zero_checks</c> and <c>grad_mean</c> are the hook's per-gate pruning-test
/// state, kept here so checkpoints, resumes and channel surgery carry them with the gate.
/// </summary>
public sealed class GateOp : Op
{
    /// <summary>Creates a gate over <paramref name="channels"/> channels.</summary>
    /// <param name="gates">Channels for unit gates, 1 for a block gate.</param>
    /// <param name="channels">Channels of the gated tensor.</param>
    /// <param name="batch">Largest training batch the mask buffer holds.</param>
    /// <param name="key">Identity of the logical gate (nodes with one key share theta and samples).</param>
    public GateOp(int gates, int channels, int batch, string key)
    {
        bool block = key.StartsWith(BlockPrefix, StringComparison.Ordinal);
        if (gates != (block ? 1 : channels)) throw new LopperInputException($"op gate {key}: a {(block ? "block" : "unit")} gate needs gates = {(block ? 1 : channels)}, got {gates}");
        if (batch < 1) throw new LopperInputException($"op gate {key}: batch must be at least 1, got {batch}");
        Gates = gates;
        Channels = channels;
        Batch = batch;
        Key = key;
    }

    /// <summary>Number of gates (channels, or 1 for a block gate).</summary>
    public int Gates { get; }
    /// <summary>Channels of the gated tensor.</summary>
    public int Channels { get; }
    /// <summary>Rows of the mask buffer (the training batch size).</summary>
    public int Batch { get; }
    /// <summary>Logical gate this node belongs to.</summary>
    public string Key { get; }
    /// <summary>True for a residual-block gate (one scalar per example).</summary>
    public bool IsBlockGate => Key.StartsWith(BlockPrefix, StringComparison.Ordinal);

    /// <summary>Key prefix of block gates (any other key is a unit gate, one per channel).</summary>
    public const string BlockPrefix = "block:";

    /// <summary>Position of theta, mask, zero_checks and grad_mean among the node's parameters.</summary>
    public const int ThetaIndex = 0, MaskIndex = 1, ZeroChecksIndex = 2, GradMeanIndex = 3;

    /// <inheritdoc/>
    public override string Type => "gate";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        if (s.Length < 2 || s[1] != Channels) throw ShapeError($"{Key} expects [N,{Channels},...], got {Tensor.Format(s)}");
        return s;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<ParamSpec> Parameters(IReadOnlyList<int[]> inputs)
    {
        int axis = IsBlockGate ? -1 : 0;
        return
        [
            new("theta", [Gates], ParamInit.Ones, true, axis, -1),
            new("mask", [Batch, Gates], ParamInit.Ones, false, axis < 0 ? -1 : 1, -1),
            new("zero_checks", [Gates], ParamInit.Zeros, false, axis, -1),
            new("grad_mean", [Gates], ParamInit.Zeros, false, axis, -1),
        ];
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        int n = x.Shape[0], plane = x.Length / (n * Channels);
        if (state.Training && n > Batch) throw new LopperInputException($"op gate {Key}: training batch {n} is larger than the gate's mask buffer ({Batch}); rebuild the gates for this batch size");
        var y = Tensor.Pooled(x.Shape);
        var theta = parameters[ThetaIndex].Span;
        var mask = parameters[MaskIndex].Span;
        var xs = x.Span;
        var ys = y.Span;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < Channels; c++)
            {
                int g = Gates == 1 ? 0 : c;
                float m = state.Training ? mask[i * Gates + g] : Inference(theta[g]);
                int off = (i * Channels + c) * plane;
                if (m == 0f) ys.Slice(off, plane).Clear();
                else TensorPrimitives.Multiply(xs.Slice(off, plane), m, ys.Slice(off, plane));
            }
        return y;
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        var x = inputs[0];
        int n = x.Shape[0], plane = x.Length / (n * Channels);
        var theta = parameters[ThetaIndex].Span;
        var mask = parameters[MaskIndex].Span;
        var go = gradOut.Span;
        var xs = x.Span;
        if (paramGrads[ThetaIndex] is { } dTheta)
        {
            var d = dTheta.Span;
            d.Clear();
            for (int i = 0; i < n; i++)
                for (int c = 0; c < Channels; c++)
                {
                    int off = (i * Channels + c) * plane;
                    d[Gates == 1 ? 0 : c] += TensorPrimitives.Dot(go.Slice(off, plane), xs.Slice(off, plane));
                }
        }
        if (!state.NeedsInputGrad[0]) return [null];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < Channels; c++)
            {
                int g = Gates == 1 ? 0 : c;
                float m = state.Training ? mask[i * Gates + g] : Inference(theta[g]);
                int off = (i * Channels + c) * plane;
                if (m == 0f) go.Slice(off, plane).Clear();
                else if (m != 1f) TensorPrimitives.Multiply(go.Slice(off, plane), m, go.Slice(off, plane));
            }
        return [gradOut];
    }

    /// <summary>The inference multiplier of a gate with probability <paramref name="theta"/>: theta from 0.5 up, else 0.</summary>
    public static float Inference(float theta) => theta >= 0.5f ? theta : 0f;

    /// <inheritdoc/>
    public override Op Resized(int[] inChannels, int outChannels) => new GateOp(IsBlockGate ? 1 : inChannels[0], inChannels[0], Batch, Key);

    /// <inheritdoc/>
    public override JsonObject Attributes() => new() { ["gates"] = Gates, ["channels"] = Channels, ["batch"] = Batch, ["key"] = Key };

    /// <summary>Reads the op from model.json attributes.</summary>
    public static GateOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "gate");
        var op = new GateOp(a.Int("gates", 1, OpAttributes.MaxSize), a.Int("channels", 1, OpAttributes.MaxSize), a.Int("batch", 1, OpAttributes.MaxSize), a.String("key"));
        a.Done();
        return op;
    }
}
