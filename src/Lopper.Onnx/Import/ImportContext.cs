using System.Text;
using Lopper.Graph;
using Lopper.Onnx.Proto;
using Lopper.Tensors;

namespace Lopper.Onnx.Import;

/// <summary>
/// The state of one import: ONNX value names bound so far, the Lopper nodes and weights built, and the
/// node being imported (<see cref="Node"/>), with helpers an op importer uses to read its inputs and add
/// its Lopper node. Every failure names the ONNX node.
/// </summary>
public sealed class ImportContext
{
    private readonly Dictionary<string, ImportValue> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _readers;

    internal ImportContext(Dictionary<string, int> readers, long? staticBatch)
    {
        _readers = readers;
        StaticBatch = staticBatch;
        _names.Add("input");
    }

    /// <summary>The ONNX node being imported.</summary>
    public NodeProto Node { get; internal set; } = new();

    /// <summary>Opset version of the default ONNX domain.</summary>
    public long Opset { get; internal init; }

    /// <summary>The batch size the graph input declares, or null when it is dynamic.</summary>
    public long? StaticBatch { get; }

    /// <summary>Lopper nodes built so far, in topological order.</summary>
    public List<Lopper.Graph.Node> Nodes { get; } = new();

    /// <summary>Weights by full parameter name ("node.weight").</summary>
    public Dictionary<string, Tensor> Weights { get; } = new(StringComparer.Ordinal);

    /// <summary>An error naming the current node.</summary>
    public LopperInputException Fail(string what) => OnnxErrors.Node(Node, what);

    /// <summary>Reads the current node's attributes, allowing only <paramref name="known"/>.</summary>
    public OnnxAttributes Attributes(params string[] known) => new(Node, known);

    /// <summary>Number of inputs actually given (trailing empty names are absent optional inputs).</summary>
    public int InputCount
    {
        get
        {
            int n = Node.Input.Count;
            while (n > 0 && Node.Input[n - 1].Length == 0) n--;
            return n;
        }
    }

    /// <summary>True when input <paramref name="i"/> is given.</summary>
    public bool HasInput(int i) => i < Node.Input.Count && Node.Input[i].Length > 0;

    internal void Bind(string name, ImportValue v)
    {
        if (!_values.TryAdd(name, v)) throw new LopperInputException($"value '{name}' is defined twice (an ONNX graph assigns each value once)");
    }

    /// <summary>Input <paramref name="i"/>'s value; fails when it is not produced by an earlier node.</summary>
    public ImportValue Input(int i)
    {
        if (!HasInput(i)) throw Fail($"input {i} is missing");
        var name = Node.Input[i];
        return _values.TryGetValue(name, out var v) ? v
            : throw Fail($"input '{name}' is not produced by an earlier node (the graph is cyclic or not topologically sorted)");
    }

    /// <summary>Input <paramref name="i"/> as a feature map; a pending Pad is refused unless <paramref name="allowPads"/>.</summary>
    public ImportValue GraphInput(int i, bool allowPads = false)
    {
        var v = Input(i);
        if (!v.IsGraph) throw Fail($"input {i} ('{Node.Input[i]}') is a constant where Lopper needs a feature map; constant-only branches of this kind are not supported");
        if (v.ShuffleOf is not null)
            throw Fail($"input '{Node.Input[i]}' is a channel-split view [N, groups, C/groups, H, W]; Lopper reads it only as the Reshape-Transpose-Reshape of a channel shuffle");
        if (v.Pads is not null && !allowPads) throw Fail($"input '{Node.Input[i]}' comes from a Pad that Lopper can fold only into a following Conv or MaxPool");
        if (v.IsIntermediate)
            throw Fail($"input '{Node.Input[i]}' is a step of a {(v.Pattern.ToString().StartsWith("Ln") ? "LayerNorm" : "GELU")} pattern ({v.Pattern}); Lopper reads it only as part of the exact pattern PyTorch exports");
        if (v.ChannelsLast)
            throw Fail($"input '{Node.Input[i]}' is a channels-last view (Transpose [0, 2, 3, 1]); Lopper reads it only in LayerNorm, MatMul + Add over the channels, GELU or the Transpose back");
        return v;
    }

    /// <summary>Input <paramref name="i"/> as a feature map in either layout (channels-last views allowed), not a pattern step; null for a constant.</summary>
    public ImportValue? FeatureInput(int i)
    {
        var v = Input(i);
        if (!v.IsGraph || v.IsIntermediate || v.ShuffleOf is not null || v.Pads is not null) return null;
        return v;
    }

    /// <summary>Input <paramref name="i"/> as a float scalar constant, or null.</summary>
    public float? ScalarInput(int i) => Input(i).Float is { Length: 1 } t ? t.Data[0] : null;

    /// <summary>Input <paramref name="i"/> as a float constant (an initializer or folded Constant).</summary>
    public Tensor FloatInput(int i, string role)
    {
        var v = Input(i);
        return v.Float ?? throw Fail($"{role} ('{Node.Input[i]}') must be a float32 constant (an initializer); computed {role}s are not supported");
    }

    /// <summary>Input <paramref name="i"/> as an integer constant (a shape, axes or indices, possibly folded from Shape ops).</summary>
    public (long[] Values, int[] Dims) IntInput(int i, string role)
    {
        var v = Input(i);
        if (v.Ints is null) throw Fail($"{role} ('{Node.Input[i]}') must be an integer constant Lopper can fold at import; data-dependent shapes are not supported");
        return (v.Ints, v.IntDims);
    }

    /// <summary>The value bound to an ONNX name, or null.</summary>
    public ImportValue? Value(string name) => _values.GetValueOrDefault(name);

    /// <summary>How many nodes (and graph outputs) read the ONNX value <paramref name="name"/>.</summary>
    public int Readers(string name) => _readers.GetValueOrDefault(name);

    /// <summary>Binds output <paramref name="i"/> of the current node.</summary>
    public void SetOutput(int i, ImportValue v) => Bind(Node.Output[i], v);

    /// <summary>Fails when any output from <paramref name="first"/> on is read (optional outputs Lopper does not compute).</summary>
    public void RequireUnused(int first, string what)
    {
        for (int i = first; i < Node.Output.Count; i++)
            if (Node.Output[i].Length > 0 && Readers(Node.Output[i]) > 0) throw Fail($"output {i} ({what}) is used; Lopper computes only output 0");
    }

    /// <summary>
    /// Adds a Lopper node computing <paramref name="op"/> on <paramref name="inputs"/> with the given weights
    /// (by parameter suffix, reshaped to the op's parameter shapes after checking their sizes) and binds output 0 to it.
    /// </summary>
    public ImportValue Add(Op op, ImportValue[] inputs, params (string Suffix, Tensor Value)[] weights)
    {
        var v = Create(op, inputs, null, weights);
        SetOutput(0, v);
        return v;
    }

    /// <summary>
    /// Adds a Lopper node like <see cref="Add"/> without binding any ONNX output to it: one of several nodes an
    /// ONNX node becomes (a Split's slices, ReduceMean's pool before its flatten). <paramref name="suffix"/> extends the name.
    /// </summary>
    public ImportValue Create(Op op, ImportValue[] inputs, string? suffix, params (string Suffix, Tensor Value)[] weights)
    {
        var shapes = inputs.Select(v => v.Shape).ToArray();
        int[] shape;
        try { shape = op.OutputShape(shapes); }
        catch (LopperInputException e) { throw Fail(e.Message); }
        string name = UniqueName(suffix);
        var node = new Lopper.Graph.Node(name, op, inputs.Select(v => v.Node!).ToArray());
        foreach (var spec in op.Parameters(shapes))
        {
            var match = weights.FirstOrDefault(w => w.Suffix == spec.Name);
            if (match.Value is null) throw new InvalidOperationException($"importer for {Node.OpType} gave no '{spec.Name}'");
            if (match.Value.Length != Tensor.Numel(spec.Shape))
                throw Fail($"{spec.Name} has {match.Value.Length} values, the layer needs {Tensor.Format(spec.Shape)}");
            Weights[$"{name}.{spec.Name}"] = new Tensor((int[])spec.Shape.Clone(), match.Value.Data);
        }
        Nodes.Add(node);
        return ImportValue.Graph(name, shape);
    }

    /// <summary>Replaces the node that computes <paramref name="v"/> (used to fold a following bias into a MatMul's Linear).</summary>
    public void Replace(ImportValue v, Op op, params (string Suffix, Tensor Value)[] weights)
    {
        int i = Nodes.FindIndex(n => n.Name == v.Node);
        var old = Nodes[i];
        Nodes[i] = new Lopper.Graph.Node(old.Name, op, old.Inputs);
        foreach (var (suffix, t) in weights) Weights[$"{old.Name}.{suffix}"] = t;
    }

    /// <summary>The Lopper node computing a feature map (null for the graph input).</summary>
    public Lopper.Graph.Node? Producer(ImportValue v) => Nodes.FirstOrDefault(n => n.Name == v.Node);

    // A layer with weights is named as PyTorch named the module (the initializer "features.0.weight" gives
    // "features.0"), so parameter names read like the state dict; others from the node name ("/layer1/relu/Relu").
    private string UniqueName(string? suffix)
    {
        string? baseName = null;
        if (Node.Input.Count > 1 && Node.Input[1].EndsWith(".weight", StringComparison.Ordinal) && !Node.Input[1].StartsWith("onnx::", StringComparison.Ordinal))
            baseName = Node.Input[1][..^".weight".Length];
        baseName ??= Sanitize(Node.Name.Length > 0 ? Node.Name : Node.OpType.ToLowerInvariant());
        if (suffix is not null) baseName += "." + suffix;
        string name = baseName;
        for (int k = 2; !_names.Add(name); k++) name = $"{baseName}_{k}";
        return name;
    }

    // "/layer1/layer1.0/relu/Relu" -> "layer1.0.relu": PyTorch scopes repeat the parent path inside each
    // child segment, so a segment the next one extends is dropped; the last segment is the op type.
    private static string Sanitize(string s)
    {
        var parts = s.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var kept = new List<string>();
        for (int i = 0; i < parts.Length - 1; i++)
            if (!parts[i + 1].StartsWith(parts[i] + ".", StringComparison.Ordinal)) kept.Add(parts[i]);
        var r = kept.Count > 0 ? string.Join('.', kept) : (parts.Length > 0 ? parts[^1] : "node");
        var sb = new StringBuilder(r.Length);
        foreach (char c in r) sb.Append(char.IsLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '_');
        return sb.ToString();
    }
}
