using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lopper.Graph;

/// <summary>
/// Strict reader of one node's model.json attributes. Every read checks the JSON type and the allowed range and
/// records the key; <see cref="Done"/> then fails on any key nobody read, so a misspelt or unsupported attribute
/// ("strides", "groups" on an op without groups) stops the load instead of silently building another model.
/// Errors name the op and the attribute; the model.json reader adds the file and node.
/// </summary>
public sealed class OpAttributes
{
    private readonly JsonObject _attributes;
    private readonly string _op;
    private readonly List<string> _known = new();

    /// <summary>Reads <paramref name="attributes"/> of an op of type <paramref name="op"/>.</summary>
    public OpAttributes(JsonObject attributes, string op)
    {
        _attributes = attributes;
        _op = op;
    }

    private LopperInputException Bad(string key, string what) => new($"op {_op}: attribute '{key}' {what}");

    private JsonNode? Take(string key)
    {
        _known.Add(key);
        if (!_attributes.TryGetPropertyValue(key, out var v)) return null;
        return v ?? throw Bad(key, "must not be null");
    }

    /// <summary>Largest size attribute accepted (channels, kernel, stride, padding): far above any real network, far below overflow.</summary>
    public const int MaxSize = 1 << 20;

    private int ToInt(string key, JsonNode v, int min, int max)
    {
        if (v is not JsonValue jv || jv.GetValueKind() != JsonValueKind.Number || !jv.TryGetValue(out int i))
            throw Bad(key, $"must be an integer, got {v.ToJsonString()}");
        if (i < min || i > max) throw Bad(key, $"must be in [{min}, {max}], got {i}");
        return i;
    }

    /// <summary>A required integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int Int(string key, int min = int.MinValue, int max = int.MaxValue)
        => Take(key) is { } v ? ToInt(key, v, min, max) : throw Bad(key, "is missing");

    /// <summary>An optional integer in [<paramref name="min"/>, <paramref name="max"/>], <paramref name="fallback"/> when absent.</summary>
    public int Int(string key, int fallback, int min, int max)
        => Take(key) is { } v ? ToInt(key, v, min, max) : fallback;

    /// <summary>An optional finite number in [<paramref name="min"/>, <paramref name="max"/>] (or below <paramref name="max"/> when <paramref name="maxExclusive"/>).</summary>
    public double Real(string key, double fallback, double min, double max, bool maxExclusive = false)
    {
        if (Take(key) is not { } v) return fallback;
        if (v is not JsonValue jv || jv.GetValueKind() != JsonValueKind.Number || !jv.TryGetValue(out double d) || !double.IsFinite(d))
            throw Bad(key, $"must be a number, got {v.ToJsonString()}");
        if (d < min || d > max || (maxExclusive && d >= max))
            throw Bad(key, $"must be in [{min}, {max}{(maxExclusive ? ")" : "]")}, got {d}");
        return d;
    }

    /// <summary>An optional boolean, <paramref name="fallback"/> when absent.</summary>
    public bool Bool(string key, bool fallback)
    {
        if (Take(key) is not { } v) return fallback;
        if (v is not JsonValue jv || jv.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
            throw Bad(key, $"must be true or false, got {v.ToJsonString()}");
        return jv.GetValue<bool>();
    }

    /// <summary>A required non-empty string.</summary>
    public string String(string key)
    {
        if (Take(key) is not { } v) throw Bad(key, "is missing");
        if (v is not JsonValue jv || jv.GetValueKind() != JsonValueKind.String || string.IsNullOrEmpty(jv.GetValue<string>()))
            throw Bad(key, $"must be a non-empty string, got {v.ToJsonString()}");
        return jv.GetValue<string>();
    }

    /// <summary>An integer array (each in [<paramref name="min"/>, <paramref name="max"/>]), or null when absent and not <paramref name="required"/>.</summary>
    public int[]? Ints(string key, bool required, int min = int.MinValue, int max = int.MaxValue)
    {
        if (Take(key) is not { } v)
            return required ? throw Bad(key, "is missing") : null;
        if (v is not JsonArray arr || arr.Count == 0) throw Bad(key, $"must be a non-empty array of integers, got {v.ToJsonString()}");
        var r = new int[arr.Count];
        for (int i = 0; i < r.Length; i++)
            r[i] = arr[i] is { } e ? ToInt(key, e, min, max) : throw Bad(key, "must hold integers, got null");
        return r;
    }

    /// <summary>
    /// A size given as one integer (the same along both axes) or as [height, width], each in [<paramref name="min"/>, <paramref name="max"/>];
    /// <paramref name="fallback"/> for both when absent, required when <paramref name="fallback"/> is null.
    /// </summary>
    public (int H, int W) IntOrPair(string key, int? fallback, int min, int max)
    {
        if (Take(key) is not { } v)
            return fallback is { } f ? (f, f) : throw Bad(key, "is missing");
        if (v is not JsonArray arr) { int i = ToInt(key, v, min, max); return (i, i); }
        if (arr.Count != 2) throw Bad(key, $"must be an integer or a pair [height, width], got {v.ToJsonString()}");
        int h = arr[0] is { } a0 ? ToInt(key, a0, min, max) : throw Bad(key, "must hold integers, got null");
        int w = arr[1] is { } a1 ? ToInt(key, a1, min, max) : throw Bad(key, "must hold integers, got null");
        return (h, w);
    }

    /// <summary>Fails unless <paramref name="json"/> is empty (ops that take no attributes).</summary>
    public static void None(JsonObject json, string op) => new OpAttributes(json, op).Done();

    /// <summary>Fails naming the first attribute that no read asked for.</summary>
    public void Done()
    {
        foreach (var (key, _) in _attributes)
            if (!_known.Contains(key))
                throw new LopperInputException(_known.Count == 0
                    ? $"op {_op}: unknown attribute '{key}' ({_op} takes no attributes)"
                    : $"op {_op}: unknown attribute '{key}' (known: {string.Join(", ", _known)})");
    }
}
