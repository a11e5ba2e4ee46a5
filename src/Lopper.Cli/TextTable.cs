using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lopper.Cli;

/// <summary>
/// A benchmark result as lines for a terminal: scalars as `key: value`, lists of numbers on one line, and lists of
/// records (a profile's layers, a sweep's levels) as aligned tables with one column per field.
/// </summary>
public static class TextTable
{
    /// <summary>Writes <paramref name="result"/> to <paramref name="w"/>.</summary>
    public static void Write(TextWriter w, JsonObject result)
    {
        foreach (var (key, value) in result)
        {
            if (value is JsonArray rows && rows.Count > 0 && rows.All(r => r is JsonObject))
            {
                w.WriteLine($"{key}:");
                // Runs of records with the same fields each make a table (a profile lists op types, then layers).
                var records = rows.Cast<JsonObject>().ToList();
                for (int start = 0, end; start < records.Count; start = end)
                {
                    var fields = records[start].Select(f => f.Key).ToList();
                    for (end = start + 1; end < records.Count && records[end].Select(f => f.Key).SequenceEqual(fields); end++) { }
                    if (start > 0) w.WriteLine();
                    WriteRows(w, records.GetRange(start, end - start));
                }
            }
            else if (value is JsonArray list) w.WriteLine($"{key}: {string.Join(", ", list.Select(Cell))}");
            else w.WriteLine($"{key}: {Cell(value)}");
        }
    }

    /// <summary>
    /// Writes records with the same fields as one table, two spaces in: a column a field, in the order the rows first
    /// name them; numbers align right, text left, a missing value is "-".
    /// </summary>
    public static void WriteRows(TextWriter w, IReadOnlyList<JsonObject> rows)
    {
        var columns = new List<string>();
        foreach (var row in rows)
            foreach (var (field, _) in row)
                if (!columns.Contains(field)) columns.Add(field);
        var cells = rows.Select(r => columns.Select(c => r.TryGetPropertyValue(c, out var v) ? Cell(v) : "-").ToArray()).ToList();
        var numeric = columns.Select(c => rows.All(r => !r.TryGetPropertyValue(c, out var v) || v is null || Kind(v) == JsonValueKind.Number)).ToArray();
        var widths = columns.Select((c, i) => Math.Max(c.Length, cells.Max(r => r[i].Length))).ToArray();
        string Line(IReadOnlyList<string> values) =>
            "  " + string.Join("  ", values.Select((v, i) => numeric[i] ? v.PadLeft(widths[i]) : v.PadRight(widths[i]))).TrimEnd();
        w.WriteLine(Line(columns));
        foreach (var row in cells) w.WriteLine(Line(row));
    }

    // Numbers as JSON writes them (invariant), text without quotes, "-" for a missing value; a non-finite double,
    // which JSON cannot hold, as .NET names it.
    private static string Cell(JsonNode? v) => v switch
    {
        null => "-",
        JsonValue d when d.TryGetValue<double>(out var x) && !double.IsFinite(x) => x.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => Kind(v) == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString(),
    };

    private static JsonValueKind Kind(JsonNode? v) =>
        v is JsonValue d && d.TryGetValue<double>(out var x) && !double.IsFinite(x) ? JsonValueKind.Number : v?.GetValueKind() ?? JsonValueKind.Null;
}
