using Lopper.Graph;
using Lopper.Structure;
using Lopper.Tensors;

namespace Lopper.Pruning;

/// <summary>
/// Per-parameter 0/1 masks, one representation for all three unit kinds (channel groups, kernel
/// columns, residual blocks). Applying multiplies weights by the mask; the training hook also masks
/// gradients so pruned weights never move.
/// </summary>
public sealed class ParameterMasks
{
    private readonly Dictionary<string, Tensor> _masks = new();

    /// <summary>Parameter names that have a mask.</summary>
    public IEnumerable<string> Names => _masks.Keys;

    /// <summary>The mask of a parameter, or null.</summary>
    public Tensor? Of(string parameter) => _masks.GetValueOrDefault(parameter);

    private Tensor For(Model model, string name)
    {
        if (!_masks.TryGetValue(name, out var m))
        {
            var p = model.Find(name) ?? throw new ArgumentException($"no parameter {name}");
            m = new Tensor(p.Spec.Shape);
            m.Span.Fill(1f);
            _masks[name] = m;
        }
        return m;
    }

    /// <summary>Masks every slice of the channels a selection removes.</summary>
    public ParameterMasks AddChannels(Model model, ChannelGroups groups, ChannelSelection selection)
    {
        foreach (int id in selection.Groups)
        {
            var g = groups.Groups[id];
            var removed = selection.Removed(g);
            if (removed.Length == 0) continue;
            foreach (var s in g.Slices) AxisSlicing.Zero(For(model, s.Parameter), s, removed);
        }
        return this;
    }

    /// <summary>Masks every trainable branch parameter of the given residual blocks.</summary>
    public ParameterMasks AddBlocks(Model model, IEnumerable<ResidualBlock> blocks)
    {
        foreach (var b in blocks)
            foreach (int n in b.Branch)
                foreach (var p in model.NodeParameters[n])
                    if (p.Trainable) For(model, p.Name).Span.Clear();
        return this;
    }

    /// <summary>Masks kernel columns (input channel, ky, kx) of a convolution weight [O, C, k, k], across all filters.</summary>
    public ParameterMasks AddColumns(Model model, string weight, IEnumerable<int> columns)
    {
        var m = For(model, weight);
        int o = m.Shape[0], cols = m.Length / o;
        foreach (int c in columns)
        {
            if ((uint)c >= (uint)cols) throw new ArgumentOutOfRangeException(nameof(columns), $"{weight}: column {c} is outside its {cols} columns");
            for (int f = 0; f < o; f++) m.Data[f * cols + c] = 0f;
        }
        return this;
    }

    /// <summary>Masks individual weights (unstructured pruning).</summary>
    public ParameterMasks AddElements(Model model, string parameter, IEnumerable<int> indices)
    {
        var m = For(model, parameter);
        foreach (int i in indices) m.Data[i] = 0f;
        return this;
    }

    /// <summary>Multiplies every masked parameter by its mask.</summary>
    public void Apply(Model model)
    {
        foreach (var (name, mask) in _masks)
        {
            var w = model.Find(name)!.Value.Span;
            TensorPrimitives.Multiply(w, mask.Span, w);
        }
    }

    /// <summary>Multiplies every masked parameter's gradient by its mask.</summary>
    public void ApplyToGradients(Model model)
    {
        foreach (var (name, mask) in _masks)
            if (model.Find(name)!.Grad is { } g) TensorPrimitives.Multiply(g.Span, mask.Span, g.Span);
    }

    /// <summary>Number of masked-out values.</summary>
    public long ZeroCount()
    {
        long z = 0;
        foreach (var m in _masks.Values) z += m.Length - (long)TensorPrimitives.Sum(m.Span);
        return z;
    }
}
