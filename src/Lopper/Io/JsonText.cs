using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lopper.Io;

/// <summary>
/// JSON output that never fails on a number: JSON has no NaN or infinity, so a non-finite value (a diverged
/// loss, NaN weights) is written as null and reported, instead of the writer throwing.
/// </summary>
public static class JsonText
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Indented JSON text of <paramref name="node"/>, non-finite numbers as null.</summary>
    public static string Write(JsonNode? node) => Write(node, out _);

    /// <summary>As <see cref="Write(JsonNode?)"/>; <paramref name="nulled"/> lists the paths of the values written as null.</summary>
    public static string Write(JsonNode? node, out List<string> nulled)
    {
        nulled = new List<string>();
        if (node is null) return "null";
        var copy = node.DeepClone();
        copy = Sanitize(copy, "$", nulled);
        return copy is null ? "null" : copy.ToJsonString(Indented);
    }

    private static JsonNode? Sanitize(JsonNode? node, string path, List<string> nulled)
    {
        if (IsNonFinite(node)) { nulled.Add(path); return null; }
        if (node is JsonObject o)
        {
            foreach (var key in o.Select(kv => kv.Key).ToList())
            {
                var child = o[key];
                if (IsNonFinite(child)) { o[key] = null; nulled.Add($"{path}.{key}"); }
                else Sanitize(child, $"{path}.{key}", nulled);
            }
        }
        else if (node is JsonArray a)
        {
            for (int i = 0; i < a.Count; i++)
            {
                if (IsNonFinite(a[i])) { a[i] = null; nulled.Add($"{path}[{i}]"); }
                else Sanitize(a[i], $"{path}[{i}]", nulled);
            }
        }
        return node;
    }

    private static bool IsNonFinite(JsonNode? node) =>
        node is JsonValue v && (v.TryGetValue(out double d) && !double.IsFinite(d) || v.TryGetValue(out float f) && !float.IsFinite(f));
}
