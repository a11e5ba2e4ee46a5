using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;

namespace Lopper.Fuzz;

/// <summary>
/// Property-based mutators: FsCheck generates a mutation plan (which seed, then a list of byte-level and
/// structure-aware edits with their parameters); applying the plan to the seed gives the input.
/// </summary>
public static class Mutators
{
    /// <summary>One edit: its kind and three parameters, interpreted per kind.</summary>
    public readonly record struct Edit(int Kind, int A, int B, int C);

    /// <summary>A seed index and the edits applied to it in order.</summary>
    public sealed record Plan(int Seed, Edit[] Edits);

    private const int Kinds = 14;

    /// <summary>Plans over <paramref name="seeds"/> seeds: 1 to 4 edits each, parameters spanning small and huge values.</summary>
    public static Gen<Plan> Plans(int seeds) =>
        from seed in Gen.Choose(0, seeds - 1)
        from n in Gen.Choose(1, 4)
        from edits in Gen.ArrayOf(
            from k in Gen.Choose(0, Kinds - 1)
            from a in Gen.Choose(0, int.MaxValue)
            from b in Gen.Choose(0, int.MaxValue)
            from c in Gen.Choose(0, int.MaxValue)
            select new Edit(k, a, b, c), n)
        select new Plan(seed, edits);

    private static readonly long[] Interesting = [0, 1, -1, 2, 7, 8, 255, 256, 65535, 65536, int.MaxValue, (long)int.MaxValue + 1, uint.MaxValue, -2147483648, long.MaxValue, long.MinValue, 100_000_001, 25_000_000];
    private static readonly string[] JsonValues = ["0", "-1", "-2", "2147483648", "4294967296", "1e39", "1.5", "null", "true", "\"NaN\"", "\"\"", "\"F32\"", "\"F16\"", "[]", "[0]", "[0,8,16]", "{}", "[[[[[[[[]]]]]]]]", "\"\\u00ff\"", "9223372036854775807", "[4,65536,65536,65536]", "25000000"];
    private static readonly string[] YamlTokens = ["[", "]", "{", "}", "- ", ": ", "&a ", "*a", "..", "\"..\"", "-1", "1e39", "NaN", ".inf", "null", "~", "\t", "'", "\"", "!!binary ", "? ", "|\n", ">\n", "%YAML 1.2\n", "---\n", "...\n", "\u00ff", "0x7fffffff", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["];

    /// <summary>Applies the plan to its seed.</summary>
    public static byte[] Apply(Plan plan, IReadOnlyList<byte[]> seeds, bool structured)
    {
        var data = seeds[plan.Seed].ToList();
        foreach (var e in plan.Edits) data = Apply(e, data, seeds, structured);
        return data.ToArray();
    }

    private static List<byte> Apply(Edit e, List<byte> d, IReadOnlyList<byte[]> seeds, bool structured)
    {
        int Pos(int x) => d.Count == 0 ? 0 : x % d.Count;
        switch (e.Kind)
        {
            case 0 when d.Count > 0: d[Pos(e.A)] ^= (byte)(1 << (e.B % 8)); break;
            case 1 when d.Count > 0: d[Pos(e.A)] = (byte)new[] { 0, 0xFF, 0x7F, 0x80, 0x1F, 0x8B, (byte)'{', (byte)'"', (byte)',', 0xC0 }[e.B % 10]; break;
            case 2: d.InsertRange(Pos(e.A), Enumerable.Range(0, 1 + e.B % 16).Select(i => (byte)(e.C >> (i % 4 * 8)))); break;
            case 3 when d.Count > 0: { int p = Pos(e.A), n = Math.Min(1 + e.B % 64, d.Count - p); d.RemoveRange(p, n); break; }
            case 4 when d.Count > 0: { int p = Pos(e.A), n = Math.Min(1 + e.B % 256, d.Count - p); d.InsertRange(Pos(e.C), d.GetRange(p, n)); break; }
            case 5 when d.Count > 0: d.RemoveRange(Pos(e.A), d.Count - Pos(e.A)); break;
            case 6: d.AddRange(Enumerable.Range(0, 1 + e.A % 2048).Select(i => (byte)(i * 31 + e.B))); break;
            case 7 when d.Count >= 8:
                {
                    // An integer field (lengths, counts, offsets) overwritten with an edge value, in either byte order.
                    int p = Pos(e.A) & ~3;
                    if (p + 8 > d.Count) p = d.Count - 8;
                    long v = Interesting[e.B % Interesting.Length];
                    var span = new byte[8];
                    if (e.C % 2 == 0) BinaryPrimitives.WriteInt64LittleEndian(span, v); else BinaryPrimitives.WriteInt64BigEndian(span, v);
                    int width = e.C % 4 < 2 ? 4 : 8;
                    for (int i = 0; i < width; i++) d[p + i] = span[e.C % 2 == 0 ? i : 8 - width + i];
                    break;
                }
            case 8: { var other = seeds[e.A % seeds.Count]; int p = other.Length == 0 ? 0 : e.B % other.Length; d.InsertRange(Pos(e.C), other.Skip(p).Take(1 + e.C % 512)); break; }
            case 9 or 10 or 11 or 12 or 13 when structured: return Structured(e, d);
            default: if (d.Count > 0) d[Pos(e.A)] ^= 0x20; break;
        }
        return d;
    }

    // Structure-aware edits: on JSON (a safetensors header or model.json) replace a value or a key, repeat a key,
    // or nest deeply; on anything else (YAML) insert a token.
    private static List<byte> Structured(Edit e, List<byte> d)
    {
        var bytes = d.ToArray();
        bool safetensors = bytes.Length >= 8 && BinaryPrimitives.ReadUInt64LittleEndian(bytes) is var hl && hl > 1 && hl <= (ulong)(bytes.Length - 8) && bytes[8] == (byte)'{';
        int start = safetensors ? 8 : 0;
        int len = safetensors ? (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes) : bytes.Length;
        string text = Encoding.UTF8.GetString(bytes, start, len);
        string edited = text.TrimStart().StartsWith('{') ? EditJson(e, text) : EditText(e, text);
        var nb = Encoding.UTF8.GetBytes(edited);
        var result = new List<byte>();
        if (safetensors)
        {
            var lenBytes = new byte[8];
            // Usually the header length follows the edit; sometimes it keeps the old value.
            BinaryPrimitives.WriteUInt64LittleEndian(lenBytes, e.C % 5 == 0 ? (ulong)len : (ulong)nb.Length);
            result.AddRange(lenBytes);
            result.AddRange(nb);
            result.AddRange(bytes.Skip(8 + len));
        }
        else result.AddRange(nb);
        return result;
    }

    private static string EditJson(Edit e, string text)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(text, documentOptions: new System.Text.Json.JsonDocumentOptions { AllowDuplicateProperties = false }); }
        catch (System.Text.Json.JsonException) { return EditText(e, text); }
        if (root is null) return text;
        var nodes = new List<JsonNode>();
        void Walk(JsonNode n) { nodes.Add(n); if (n is JsonObject o) foreach (var kv in o) { if (kv.Value is not null) Walk(kv.Value); } else if (n is JsonArray a) foreach (var x in a) if (x is not null) Walk(x); }
        Walk(root);
        var target = nodes[e.A % nodes.Count];
        string replacement = JsonValues[e.B % JsonValues.Length];
        switch (e.Kind)
        {
            case 9 or 10 when target.Parent is JsonObject po:
                po[target.GetPropertyName()] = JsonNode.Parse(replacement);
                return root.ToJsonString();
            case 9 or 10 when target.Parent is JsonArray pa:
                pa[target.GetElementIndex()] = JsonNode.Parse(replacement);
                return root.ToJsonString();
            case 11 when target.Parent is JsonObject po2:
                {
                    // Repeat the key textually (JsonObject cannot hold it twice).
                    string name = target.GetPropertyName();
                    string s = root.ToJsonString();
                    string key = System.Text.Json.JsonSerializer.Serialize(name) + ":";
                    int at = s.IndexOf(key, StringComparison.Ordinal);
                    return at < 0 ? s : s.Insert(at, key + replacement + ",");
                }
            case 12 when target.Parent is JsonObject po3:
                po3.Remove(target.GetPropertyName());
                return root.ToJsonString();
            default:
                {
                    string s = root.ToJsonString();
                    int depth = 1 + e.C % 5000;
                    int at = e.B % (s.Length + 1);
                    return s.Insert(at, new string('[', depth) + new string(']', e.C % 3 == 0 ? 0 : depth));
                }
        }
    }

    private static string EditText(Edit e, string text)
    {
        var lines = text.Split('\n').ToList();
        int i = lines.Count == 0 ? 0 : e.A % lines.Count;
        switch (e.Kind)
        {
            case 9: lines.Insert(i, lines[i]); break;
            case 10: lines.RemoveAt(i); break;
            case 11:
                {
                    // Replace the value after "key:" with an edge token.
                    int colon = lines[i].IndexOf(": ", StringComparison.Ordinal);
                    if (colon >= 0) lines[i] = lines[i][..(colon + 2)] + YamlTokens[e.B % YamlTokens.Length];
                    break;
                }
            case 12:
                {
                    int depth = 1 + e.C % 3000;
                    lines[i] = lines[i] + string.Concat(Enumerable.Repeat(e.B % 2 == 0 ? "[" : "\n" + new string(' ', 2) + "- ", Math.Min(depth, 400)));
                    break;
                }
            default:
                {
                    int at = lines[i].Length == 0 ? 0 : e.B % (lines[i].Length + 1);
                    lines[i] = lines[i].Insert(at, YamlTokens[e.C % YamlTokens.Length]);
                    break;
                }
        }
        return string.Join('\n', lines);
    }
}
