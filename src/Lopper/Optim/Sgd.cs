using Lopper.Graph;
using Lopper.Tensors;

namespace Lopper.Optim;

/// <summary>
/// Stochastic gradient descent with PyTorch's semantics: g = grad + wd*w; buf = momentum*buf + g
/// (buf = g on the first step); step along buf, or g + momentum*buf with Nesterov.
/// </summary>
public sealed class Sgd(float momentum = 0.9f, float weightDecay = 0f, bool nesterov = false) : Optimizer
{
    private readonly Dictionary<string, Tensor> _buffers = new();

    /// <summary>Momentum factor (0 disables the buffer).</summary>
    public float Momentum { get; } = momentum;
    /// <summary>L2 weight decay added to the gradient.</summary>
    public float WeightDecay { get; } = weightDecay;
    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; } = nesterov;

    /// <inheritdoc/>
    public override string Name => "sgd";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Tensor> State => _buffers;

    /// <inheritdoc/>
    public override void Step(IReadOnlyList<Parameter> parameters, float lr)
    {
        foreach (var p in parameters)
        {
            if (p.Grad is not { } grad) continue;
            var w = p.Value.Span;
            var g = grad.Span;
            if (WeightDecay != 0) TensorPrimitives.MultiplyAdd(w, WeightDecay, g, g);
            if (Momentum != 0)
            {
                string key = "momentum/" + p.Name;
                if (!_buffers.TryGetValue(key, out var buf))
                {
                    _buffers[key] = buf = new Tensor(p.Spec.Shape);
                    g.CopyTo(buf.Span);
                }
                else
                {
                    TensorPrimitives.MultiplyAdd(buf.Span, Momentum, g, buf.Span);
                }
                if (Nesterov) TensorPrimitives.MultiplyAdd(buf.Span, Momentum, g, g);
                else buf.Span.CopyTo(g);
            }
            TensorPrimitives.MultiplyAdd(g, -lr, w, w);
        }
        Steps++;
    }

    /// <inheritdoc/>
    public override IEnumerable<string> StateKeys(Parameter p) => Momentum != 0 ? ["momentum/" + p.Name] : [];

    /// <inheritdoc/>
    public override void LoadState(IReadOnlyDictionary<string, Tensor> state, long steps)
    {
        _buffers.Clear();
        foreach (var (k, t) in state)
        {
            if (!k.StartsWith("momentum/", StringComparison.Ordinal)) throw new LopperInputException($"optimizer state: unexpected entry '{k}' for sgd");
            _buffers[k] = t.Clone();
        }
        Steps = steps;
    }
}
