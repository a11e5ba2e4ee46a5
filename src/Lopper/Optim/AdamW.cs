using Lopper.Graph;
using Lopper.Tensors;

namespace Lopper.Optim;

/// <summary>Adam with decoupled weight decay (Loshchilov and Hutter), bias-corrected moments.</summary>
public sealed class AdamW(float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 0.01f) : Optimizer
{
    private readonly Dictionary<string, Tensor> _state = new();

    /// <summary>First-moment decay.</summary>
    public float Beta1 { get; } = beta1;
    /// <summary>Second-moment decay.</summary>
    public float Beta2 { get; } = beta2;
    /// <summary>Denominator guard.</summary>
    public float Eps { get; } = eps;
    /// <summary>Decoupled weight decay.</summary>
    public float WeightDecay { get; } = weightDecay;

    /// <inheritdoc/>
    public override string Name => "adamw";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Tensor> State => _state;

    /// <inheritdoc/>
    public override void Step(IReadOnlyList<Parameter> parameters, float lr)
    {
        Steps++;
        float c1 = 1 - MathF.Pow(Beta1, Steps), c2 = 1 - MathF.Pow(Beta2, Steps);
        float stepSize = lr / c1, sqrtC2 = MathF.Sqrt(c2);
        foreach (var p in parameters)
        {
            if (p.Grad is not { } grad) continue;
            var m = Buffer("m/" + p.Name, p).Span;
            var v = Buffer("v/" + p.Name, p).Span;
            var w = p.Value.Span;
            var g = grad.Span;
            if (WeightDecay != 0) TensorPrimitives.Multiply(w, 1 - lr * WeightDecay, w);
            for (int i = 0; i < w.Length; i++)
            {
                float gi = g[i];
                m[i] = Beta1 * m[i] + (1 - Beta1) * gi;
                v[i] = Beta2 * v[i] + (1 - Beta2) * gi * gi;
                w[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) / sqrtC2 + Eps);
            }
        }
    }

    private Tensor Buffer(string key, Parameter p)
    {
        if (!_state.TryGetValue(key, out var t)) _state[key] = t = new Tensor(p.Spec.Shape);
        return t;
    }

    /// <inheritdoc/>
    public override IEnumerable<string> StateKeys(Parameter p) => ["m/" + p.Name, "v/" + p.Name];

    /// <inheritdoc/>
    public override void LoadState(IReadOnlyDictionary<string, Tensor> state, long steps)
    {
        _state.Clear();
        foreach (var (k, t) in state)
        {
            if (!k.StartsWith("m/", StringComparison.Ordinal) && !k.StartsWith("v/", StringComparison.Ordinal))
                throw new LopperInputException($"optimizer state: unexpected entry '{k}' for adamw");
            _state[k] = t.Clone();
        }
        Steps = steps;
    }
}
