using Lopper.Graph;
using Lopper.Onnx.Proto;
using Lopper.Tensors;

namespace Lopper.Onnx.Export;

/// <summary>
/// The ONNX graph being written and the value each Lopper node's output became. An op exporter reads its
/// inputs with <see cref="In"/>, adds initializers and nodes, and binds its node's output with <see cref="SetOutput"/>.
/// </summary>
public sealed class ExportContext
{
    private readonly Dictionary<string, string> _valueOf = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    internal ExportContext(GraphProto graph, Model model)
    {
        Graph = graph;
        Model = model;
    }

    /// <summary>The ONNX graph being written.</summary>
    public GraphProto Graph { get; }

    /// <summary>The model being exported.</summary>
    public Model Model { get; }

    /// <summary>The Lopper node being exported.</summary>
    public Node Node { get; internal set; } = null!;

    /// <summary>Its parameters, in the order its op declares them.</summary>
    public Tensor[] Parameters { get; internal set; } = [];

    /// <summary>An error naming the node.</summary>
    public LopperInputException Fail(string what) => new($"node '{Node.Name}' ({Node.Op.Type}): {what}");

    /// <summary>The ONNX value holding input <paramref name="i"/> of the current node.</summary>
    public string In(int i) => _valueOf[Node.Inputs[i]];

    /// <summary>Binds the current node's output to an ONNX value.</summary>
    public void SetOutput(string value) => _valueOf[Node.Name] = value;

    internal void Bind(string node, string value) => _valueOf[node] = value;

    /// <summary>The ONNX value the named Lopper node's output became.</summary>
    public string ValueOf(string node) => _valueOf[node];

    /// <summary>A value or node name not used before, starting from <paramref name="hint"/>.</summary>
    public string Fresh(string hint)
    {
        string n = hint;
        for (int k = 2; !_names.Add(n); k++) n = $"{hint}_{k}";
        return n;
    }

    /// <summary>Adds a float32 initializer and returns its name.</summary>
    public string Initializer(string hint, ReadOnlySpan<long> dims, ReadOnlySpan<float> values)
    {
        string name = Fresh(hint);
        Graph.Initializer.Add(OnnxTensors.FromFloats(name, dims, values));
        return name;
    }

    /// <summary>Adds an int64 initializer (shapes, axes, slice bounds) and returns its name.</summary>
    public string Int64Initializer(string hint, params long[] values)
    {
        string name = Fresh(hint);
        Graph.Initializer.Add(OnnxTensors.FromInt64(name, values));
        return name;
    }

    /// <summary>Shape of input <paramref name="i"/> of the current node, batch included.</summary>
    public int[] InputShape(int i) => Model.Graph.Nodes[Node.InputIndices[i]].OutputShape;

    /// <summary>Adds a node <paramref name="opType"/> reading <paramref name="inputs"/>; returns its output value name.</summary>
    public string Emit(string opType, string[] inputs, string? outputHint = null, params AttributeProto[] attributes)
    {
        string nodeName = Fresh(outputHint ?? Node.Name);
        var n = new NodeProto { OpType = opType, Name = nodeName };
        n.Input.AddRange(inputs);
        n.Output.Add(nodeName);
        n.Attribute.AddRange(attributes);
        Graph.Node.Add(n);
        return nodeName;
    }

    /// <summary>An int attribute.</summary>
    public static AttributeProto Int(string name, long v) => new() { Name = name, Type = (int)AttributeProto.Types.AttributeType.Int, I = v };

    /// <summary>A float attribute.</summary>
    public static AttributeProto Float(string name, float v) => new() { Name = name, Type = (int)AttributeProto.Types.AttributeType.Float, F = v };

    /// <summary>An int-list attribute.</summary>
    public static AttributeProto Ints(string name, params long[] v)
    {
        var a = new AttributeProto { Name = name, Type = (int)AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }
}
