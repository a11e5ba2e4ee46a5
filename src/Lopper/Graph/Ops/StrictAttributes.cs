using System.Text.Json.Nodes;

namespace Lopper.Graph.Ops;

/// <summary>
/// Rejects model.json attributes an op does not know: a typo ("stride" for "strides", "alpah") would otherwise
/// be ignored and the model would silently run as something else.
/// </summary>
internal static class StrictAttributes
{
    /// <summary>Throws naming <paramref name="op"/> and the first attribute of <paramref name="a"/> not in <paramref name="known"/>.</summary>
    public static void Only(JsonObject a, string op, params ReadOnlySpan<string> known)
    {
        foreach (var (key, _) in a)
        {
            if (known.Contains(key)) continue;
            string expected = known.Length == 0 ? "it takes no attributes" : $"known: {string.Join(", ", known.ToArray())}";
            throw new LopperInputException($"op {op}: unknown attribute '{key}' ({expected})");
        }
    }

    /// <summary>Reads an optional finite number, failing naming the op when it is present but not a number.</summary>
    public static double Real(JsonObject a, string key, string op, double fallback)
    {
        if (a[key] is null) return fallback;
        return a[key] is JsonValue v && v.TryGetValue(out double d) && double.IsFinite(d)
            ? d
            : throw new LopperInputException($"op {op}: attribute '{key}' must be a finite number");
    }
}
