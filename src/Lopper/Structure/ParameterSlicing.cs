using Lopper.Graph;
using Lopper.Tensors;

namespace Lopper.Structure;

/// <summary>
/// How the parameters of a model map onto those of a smaller model made from it by surgery: for every
/// surviving parameter (same name in both), the axis cuts that turn the old tensor into the new one.
/// Parameters not listed were removed. Anything shaped like a parameter (optimizer momentum, Adam moments,
/// gRDA accumulators) is carried over with <see cref="TryApply"/>, which is how the trainer keeps
/// optimizer state across a model swap mid-training.
/// </summary>
public sealed class ParameterSlicing
{
    /// <summary>One cut: keep, along <paramref name="Axis"/>, the index blocks of <paramref name="Kept"/> (each <paramref name="Width"/> wide).</summary>
    public readonly record struct Cut(int Axis, int[] Kept, int Width);

    private readonly Dictionary<string, Cut[]> _cuts;

    private ParameterSlicing(Dictionary<string, Cut[]> cuts) => _cuts = cuts;

    /// <summary>Names of the parameters that survive.</summary>
    public IEnumerable<string> Survivors => _cuts.Keys;

    /// <summary>Every parameter of <paramref name="target"/> comes unchanged from the same name (block removal, gate folding).</summary>
    public static ParameterSlicing Identity(Model target)
    {
        var d = new Dictionary<string, Cut[]>(StringComparer.Ordinal);
        foreach (var p in target.Parameters) d[p.Name] = [];
        return new ParameterSlicing(d);
    }

    /// <summary>The cuts <see cref="ChannelSurgery.Compact"/> applies for <paramref name="selection"/> (same rules, recorded instead of applied).</summary>
    public static ParameterSlicing ForChannels(Model model, ChannelGroups groups, ChannelSelection selection)
    {
        var d = new Dictionary<string, Cut[]>(StringComparer.Ordinal);
        var graph = model.Graph;
        for (int i = 1; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            int in0 = node.InputIndices.Length > 0 ? node.InputIndices[0] : -1;
            var keptOut = groups.KeptChannels(i, selection);
            var keptIn = in0 >= 0 ? groups.KeptChannels(in0, selection) : null;
            foreach (var p in model.NodeParameters[i])
            {
                var cuts = new List<Cut>(2);
                if (p.Spec.OutAxis >= 0 && keptOut is not null) cuts.Add(new Cut(p.Spec.OutAxis, keptOut, 1));
                if (p.Spec.InAxis >= 0 && keptIn is not null) cuts.Add(new Cut(p.Spec.InAxis, keptIn, 1));
                d[p.Name] = cuts.ToArray();
            }
        }
        return new ParameterSlicing(d);
    }

    /// <summary>This slicing followed by <paramref name="next"/> (a parameter survives when it survives both).</summary>
    public ParameterSlicing Then(ParameterSlicing next)
    {
        var d = new Dictionary<string, Cut[]>(StringComparer.Ordinal);
        foreach (var (name, cuts) in _cuts)
            if (next._cuts.TryGetValue(name, out var more)) d[name] = [.. cuts, .. more];
        return new ParameterSlicing(d);
    }

    /// <summary>True when the parameter <paramref name="name"/> survives.</summary>
    public bool Survives(string name) => _cuts.ContainsKey(name);

    /// <summary>
    /// The sliced copy of <paramref name="old"/>, a tensor shaped like the old parameter <paramref name="name"/>,
    /// or null when that parameter was removed.
    /// </summary>
    public Tensor? TryApply(string name, Tensor old)
    {
        if (!_cuts.TryGetValue(name, out var cuts)) return null;
        var t = old;
        foreach (var c in cuts) t = AxisSlicing.Gather(t, c.Axis, c.Kept, c.Width);
        return ReferenceEquals(t, old) ? old.Clone() : t;
    }
}
