using System.Text;
using Lopper.Onnx.Proto;

namespace Lopper.Onnx;

/// <summary>
/// A node's attributes, read strictly: each importer names the attributes it understands, and any other
/// one fails naming the node, because an ignored attribute would silently change what the node computes.
/// </summary>
public sealed class OnnxAttributes
{
    private readonly NodeProto _node;
    private readonly Dictionary<string, AttributeProto> _byName = new(StringComparer.Ordinal);

    /// <summary>Reads <paramref name="node"/>'s attributes, failing on any not in <paramref name="known"/>.</summary>
    public OnnxAttributes(NodeProto node, params string[] known)
    {
        _node = node;
        foreach (var a in node.Attribute)
        {
            if (Array.IndexOf(known, a.Name) < 0)
                throw Fail($"attribute '{a.Name}' is not supported (Lopper reads: {(known.Length == 0 ? "none" : string.Join(", ", known))})");
            if (!string.IsNullOrEmpty(a.RefAttrName)) throw Fail($"attribute '{a.Name}' refers to a function attribute, which Lopper does not support");
            if (!_byName.TryAdd(a.Name, a)) throw Fail($"attribute '{a.Name}' given twice");
        }
    }

    /// <summary>True when the attribute is present.</summary>
    public bool Has(string name) => _byName.ContainsKey(name);

    /// <summary>An integer attribute, or <paramref name="fallback"/> when absent.</summary>
    public long Int(string name, long fallback)
    {
        if (!_byName.TryGetValue(name, out var a)) return fallback;
        if (a.Type != (int)AttributeProto.Types.AttributeType.Int) throw Fail($"attribute '{name}' must be an int");
        return a.I;
    }

    /// <summary>A float attribute, or <paramref name="fallback"/> when absent.</summary>
    public float Float(string name, float fallback)
    {
        if (!_byName.TryGetValue(name, out var a)) return fallback;
        if (a.Type != (int)AttributeProto.Types.AttributeType.Float) throw Fail($"attribute '{name}' must be a float");
        return a.F;
    }

    /// <summary>A string attribute, or <paramref name="fallback"/> when absent.</summary>
    public string Str(string name, string fallback)
    {
        if (!_byName.TryGetValue(name, out var a)) return fallback;
        if (a.Type != (int)AttributeProto.Types.AttributeType.String) throw Fail($"attribute '{name}' must be a string");
        return Encoding.UTF8.GetString(a.S.Span);
    }

    /// <summary>An integer-list attribute, or null when absent.</summary>
    public long[]? Ints(string name)
    {
        if (!_byName.TryGetValue(name, out var a)) return null;
        if (a.Type != (int)AttributeProto.Types.AttributeType.Ints) throw Fail($"attribute '{name}' must be a list of ints");
        return a.Ints.ToArray();
    }

    /// <summary>A tensor attribute, or null when absent.</summary>
    public TensorProto? Tensor(string name)
    {
        if (!_byName.TryGetValue(name, out var a)) return null;
        if (a.Type != (int)AttributeProto.Types.AttributeType.Tensor || a.T is null) throw Fail($"attribute '{name}' must be a tensor");
        return a.T;
    }

    /// <summary>An error naming this node.</summary>
    public LopperInputException Fail(string what) => OnnxErrors.Node(_node, what);
}

/// <summary>Error messages that name the ONNX node: op type and node name, then what went wrong and what to do.</summary>
public static class OnnxErrors
{
    /// <summary>"node 'NAME' (OpType): WHAT".</summary>
    public static LopperInputException Node(NodeProto node, string what)
        => new($"node '{(string.IsNullOrEmpty(node.Name) ? node.Output.FirstOrDefault() ?? "?" : node.Name)}' ({node.OpType}): {what}");
}
