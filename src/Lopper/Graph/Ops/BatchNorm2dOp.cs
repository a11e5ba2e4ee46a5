using System.Text.Json.Nodes;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;

namespace Lopper.Graph.Ops;

/// <summary>
/// Batch normalisation over (N, H, W) per channel. Training uses batch statistics and updates the
/// running ones (PyTorch's convention: unbiased variance for the running estimate); evaluation uses
/// the running statistics.
/// </summary>
public sealed class BatchNorm2dOp(int channels, double eps = 1e-5, double momentum = 0.1) : Op
{
    /// <summary>Channels.</summary>
    public int Channels { get; } = channels;
    /// <summary>Added to the variance.</summary>
    public double Eps { get; } = eps;
    /// <summary>Weight of the new batch in the running statistics.</summary>
    public double Momentum { get; } = momentum;

    /// <inheritdoc/>
    public override string Type => "batchnorm2d";
    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        if (s.Length != 4 || s[1] != Channels) throw ShapeError($"expects [N,{Channels},H,W], got {Tensor.Format(s)}");
        return s;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<ParamSpec> Parameters(IReadOnlyList<int[]> inputs) =>
    [
        new("weight", [Channels], ParamInit.Ones, true, 0, -1),
        new("bias", [Channels], ParamInit.Zeros, true, 0, -1),
        new("running_mean", [Channels], ParamInit.Zeros, false, 0, -1),
        new("running_var", [Channels], ParamInit.Ones, false, 0, -1),
    ];

    private sealed class Saved(float[] mean, float[] invStd)
    {
        public readonly float[] Mean = mean, InvStd = invStd;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var y = Tensor.Pooled(x.Shape);
        int n = x.Shape[0], plane = x.Shape[2] * x.Shape[3], c = Channels;
        var gamma = parameters[0].Data; var beta = parameters[1].Data;
        var runMean = parameters[2].Data; var runVar = parameters[3].Data;
        if (!state.Training)
        {
            Parallelism.For(c, ch =>
            {
                float scale = (float)(gamma[ch] / Math.Sqrt(runVar[ch] + Eps));
                float shift = beta[ch] - runMean[ch] * scale;
                for (int i = 0; i < n; i++)
                {
                    int off = (i * c + ch) * plane;
                    Simd.ScaleShift(x.Data.AsSpan(off, plane), scale, shift, y.Data.AsSpan(off, plane));
                }
            });
            if (state.WillBackward) state.Saved = null;
            return y;
        }
        var mean = new float[c];
        var invStd = new float[c];
        long m = (long)n * plane;
        float mom = (float)Momentum;
        Parallelism.For(c, ch =>
        {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += TensorPrimitives.Sum(x.Data.AsSpan((i * c + ch) * plane, plane));
            float mu = (float)(sum / m);
            double sq = 0;
            for (int i = 0; i < n; i++) sq += Simd.SumSquaredDeviation(x.Data.AsSpan((i * c + ch) * plane, plane), mu);
            double var = sq / m;
            float inv = (float)(1.0 / Math.Sqrt(var + Eps));
            mean[ch] = mu; invStd[ch] = inv;
            float scale = gamma[ch] * inv, shift = beta[ch] - mu * scale;
            for (int i = 0; i < n; i++)
            {
                int off = (i * c + ch) * plane;
                Simd.ScaleShift(x.Data.AsSpan(off, plane), scale, shift, y.Data.AsSpan(off, plane));
            }
            runMean[ch] = (1 - mom) * runMean[ch] + mom * mu;
            runVar[ch] = (1 - mom) * runVar[ch] + mom * (float)(m > 1 ? sq / (m - 1) : var);
        });
        state.Saved = new Saved(mean, invStd);
        return y;
    }

    /// <inheritdoc/>
    public override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        var x = inputs[0];
        int n = x.Shape[0], plane = x.Shape[2] * x.Shape[3], c = Channels;
        var dx = state.NeedsInputGrad[0] ? Tensor.Pooled(x.Shape) : null;
        var gamma = parameters[0].Data;
        float[]? dGamma = paramGrads[0]?.Data, dBeta = paramGrads[1]?.Data;
        var saved = state.Saved as Saved;
        long m = (long)n * plane;
        Parallelism.For(c, ch =>
        {
            float mu, inv;
            if (saved is not null) { mu = saved.Mean[ch]; inv = saved.InvStd[ch]; }
            else { mu = parameters[2].Data[ch]; inv = (float)(1.0 / Math.Sqrt(parameters[3].Data[ch] + Eps)); }
            double sumDy = 0, sumDyX = 0;
            for (int i = 0; i < n; i++)
            {
                int off = (i * c + ch) * plane;
                var g = gradOut.Data.AsSpan(off, plane);
                sumDy += TensorPrimitives.Sum(g);
                sumDyX += TensorPrimitives.Dot(g, x.Data.AsSpan(off, plane));
            }
            // sum of dy * xhat, with xhat = (x - mean) * invStd
            double sumDyXhat = inv * (sumDyX - mu * sumDy);
            if (dGamma is not null) dGamma[ch] = (float)sumDyXhat;
            if (dBeta is not null) dBeta[ch] = (float)sumDy;
            if (dx is null) return;
            double g0 = gamma[ch] * (double)inv;
            float a, b, k;
            if (saved is not null)
            {
                a = (float)g0;
                b = (float)(-g0 * inv * sumDyXhat / m);
                k = (float)(-g0 * sumDy / m + g0 * inv * mu * sumDyXhat / m);
            }
            else
            {
                a = (float)g0; b = 0; k = 0;
            }
            for (int i = 0; i < n; i++)
            {
                int off = (i * c + ch) * plane;
                Simd.Combine(gradOut.Data.AsSpan(off, plane), a, x.Data.AsSpan(off, plane), b, k, dx.Data.AsSpan(off, plane));
            }
        });
        return [dx];
    }

    /// <inheritdoc/>
    public override Op Resized(int[] inChannels, int outChannels) => new BatchNorm2dOp(inChannels[0], Eps, Momentum);

    /// <inheritdoc/>
    public override JsonObject Attributes() => new() { ["channels"] = Channels, ["eps"] = Eps, ["momentum"] = Momentum };

    /// <summary>Reads the op from model.json attributes.</summary>
    public static BatchNorm2dOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "batchnorm2d");
        var op = new BatchNorm2dOp(a.Int("channels", 1, OpAttributes.MaxSize), a.Real("eps", 1e-5, double.Epsilon, 1), a.Real("momentum", 0.1, 0, 1));
        a.Done();
        return op;
    }
}
