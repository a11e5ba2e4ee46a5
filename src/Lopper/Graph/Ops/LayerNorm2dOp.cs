using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// Layer normalisation over the channels of each pixel (ConvNeXt's LayerNorm, which PyTorch applies channels-last):
/// y[n,c,h,w] = (x[n,c,h,w] - mean_c) / sqrt(var_c + eps) * weight[c] + bias[c], the mean and (biased) variance taken
/// over the channels at (n, h, w). The same in training and evaluation. Its channel map is per-channel (the affine
/// follows its channel); a pruned layer takes its statistics over the channels it keeps.
/// </summary>
public sealed class LayerNorm2dOp(int channels, double eps = 1e-6) : Op
{
    /// <summary>Channels.</summary>
    public int Channels { get; } = channels > 0 ? channels : throw new LopperInputException($"op layernorm2d: channels must be positive, got {channels}");
    /// <summary>Added to the variance.</summary>
    public double Eps { get; } = eps > 0 && double.IsFinite(eps) ? eps : throw new LopperInputException($"op layernorm2d: eps must be positive, got {eps}");

    /// <inheritdoc/>
    public override string Type => "layernorm2d";
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
    ];

    /// <summary>Per image: the mean and 1/std of every pixel over the channels, a sum of squares and an affine per channel.</summary>
    public override long Macs(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        return 2L * s[0] * s[1] * s[2] * s[3];
    }

    // Per pixel statistics, [N, H*W] each, kept for backward.
    private sealed record Saved(float[] Mean, float[] InvStd);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var y = Tensor.Pooled(x.Shape);
        int n = x.Shape[0], c = Channels, p = x.Shape[2] * x.Shape[3];
        float[] gamma = parameters[0].Data, beta = parameters[1].Data, xd = x.Data, yd = y.Data;
        var mean = new float[n * p];
        var invStd = new float[n * p];
        float invC = 1f / c, eps = (float)Eps;
        Parallelism.For(n, i =>
        {
            var mu = mean.AsSpan(i * p, p);
            var rs = invStd.AsSpan(i * p, p);
            var image = xd.AsSpan(i * c * p, c * p);
            var outImage = yd.AsSpan(i * c * p, c * p);
            mu.Clear();
            for (int ch = 0; ch < c; ch++) TensorPrimitives.Add(mu, image.Slice(ch * p, p), mu);
            TensorPrimitives.Multiply(mu, invC, mu);
            rs.Clear();
            // y's rows serve as scratch for the centred values: y[c] = x[c] - mean, then squared into the variance.
            for (int ch = 0; ch < c; ch++)
            {
                var d = outImage.Slice(ch * p, p);
                TensorPrimitives.Subtract(image.Slice(ch * p, p), mu, d);
                TensorPrimitives.MultiplyAdd(d, d, rs, rs);
            }
            for (int j = 0; j < p; j++) rs[j] = 1f / MathF.Sqrt(rs[j] * invC + eps);
            for (int ch = 0; ch < c; ch++)
            {
                var d = outImage.Slice(ch * p, p);
                TensorPrimitives.Multiply(d, rs, d);
                TensorPrimitives.Multiply(d, gamma[ch], d);
                TensorPrimitives.Add(d, beta[ch], d);
            }
        });
        if (state.WillBackward) state.Saved = new Saved(mean, invStd);
        return y;
    }

    /// <inheritdoc/>
    public override bool BackwardReadsOutput => false;

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        var saved = (Saved)state.Saved!;
        var x = inputs[0];
        int n = x.Shape[0], c = Channels, p = x.Shape[2] * x.Shape[3];
        float[] gamma = parameters[0].Data, xd = x.Data, gd = gradOut.Data;
        bool needX = state.NeedsInputGrad[0];
        var dx = needX ? Tensor.Pooled(x.Shape) : null;
        // Per image: x-hat rows, the weight and bias gradient partials, and the two channel means of
        // dxhat = g * gamma and dxhat * xhat; then dx = invStd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
        var dGamma = new float[n * c];
        var dBeta = new float[n * c];
        Parallelism.For(n, i =>
        {
            var mu = saved.Mean.AsSpan(i * p, p);
            var rs = saved.InvStd.AsSpan(i * p, p);
            var xhat = BufferPool.Rent(c * p);
            var m1 = BufferPool.RentZeroed(p);
            var m2 = BufferPool.RentZeroed(p);
            var dh = BufferPool.Rent(p);
            for (int ch = 0; ch < c; ch++)
            {
                var h = xhat.AsSpan(ch * p, p);
                TensorPrimitives.Subtract(xd.AsSpan((i * c + ch) * p, p), mu, h);
                TensorPrimitives.Multiply(h, rs, h);
                var g = gd.AsSpan((i * c + ch) * p, p);
                dGamma[i * c + ch] = TensorPrimitives.Dot(g, h);
                dBeta[i * c + ch] = TensorPrimitives.Sum(g);
                if (!needX) continue;
                var d = dh.AsSpan(0, p);
                TensorPrimitives.Multiply(g, gamma[ch], d);
                TensorPrimitives.Add(m1.AsSpan(0, p), d, m1.AsSpan(0, p));
                TensorPrimitives.MultiplyAdd(d, h, m2.AsSpan(0, p), m2.AsSpan(0, p));
            }
            if (needX)
            {
                float invC = 1f / c;
                TensorPrimitives.Multiply(m1.AsSpan(0, p), invC, m1.AsSpan(0, p));
                // Negated, so that o -= xhat * m2 is one fused o + xhat * (-m2).
                TensorPrimitives.Multiply(m2.AsSpan(0, p), -invC, m2.AsSpan(0, p));
                var dxd = dx!.Data;
                for (int ch = 0; ch < c; ch++)
                {
                    var h = xhat.AsSpan(ch * p, p);
                    var o = dxd.AsSpan((i * c + ch) * p, p);
                    TensorPrimitives.Multiply(gd.AsSpan((i * c + ch) * p, p), gamma[ch], o);
                    TensorPrimitives.Subtract(o, m1.AsSpan(0, p), o);
                    TensorPrimitives.MultiplyAdd(h, m2.AsSpan(0, p), o, o);
                    TensorPrimitives.Multiply(o, rs, o);
                }
            }
            BufferPool.Return(xhat);
            BufferPool.Return(dh);
            BufferPool.Return(m1);
            BufferPool.Return(m2);
        });
        // Summed over images in a fixed order: deterministic for any thread count.
        if (paramGrads[0] is { } dg)
        {
            dg.Span.Clear();
            for (int i = 0; i < n; i++) TensorPrimitives.Add(dg.Span, dGamma.AsSpan(i * c, c), dg.Span);
        }
        if (paramGrads[1] is { } db)
        {
            db.Span.Clear();
            for (int i = 0; i < n; i++) TensorPrimitives.Add(db.Span, dBeta.AsSpan(i * c, c), db.Span);
        }
        return [dx];
    }

    /// <inheritdoc/>
    public override Op Resized(int[] inChannels, int outChannels) => new LayerNorm2dOp(inChannels[0], Eps);

    /// <inheritdoc/>
    public override JsonObject Attributes() => new() { ["channels"] = Channels, ["eps"] = Eps };

    /// <summary>Reads the op from model.json attributes.</summary>
    public static LayerNorm2dOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "layernorm2d");
        var op = new LayerNorm2dOp(a.Int("channels", 1, OpAttributes.MaxSize), a.Real("eps", 1e-6, 1e-12, 1, false));
        a.Done();
        return op;
    }
}
