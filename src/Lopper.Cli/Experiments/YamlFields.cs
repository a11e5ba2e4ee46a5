using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Lopper.Cli.Experiments;

/// <summary>
/// Strict reading of one YAML mapping: every key must be read (so a misspelt field is an error, not a
/// silent default), and every error names the file, the field's path (e.g. methods[2].budgets) and its line.
/// </summary>
internal sealed class YamlFields
{
    private readonly YamlMappingNode _map;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    /// <summary>The config file, for error messages.</summary>
    public string File { get; }
    /// <summary>This mapping's path ("" at the root, "methods[1]." below it).</summary>
    public string At { get; }

    /// <summary>Wraps a mapping found at <paramref name="at"/>.</summary>
    public YamlFields(YamlMappingNode map, string file, string at)
    {
        _map = map;
        File = file;
        At = at;
    }

    /// <summary>Parses a YAML document whose root is a mapping.</summary>
    public static YamlFields Load(string file)
    {
        if (!System.IO.File.Exists(file)) throw new LopperInputException($"{file}: config file not found");
        long size = new FileInfo(file).Length;
        if (size > MaxBytes) throw new LopperInputException($"{file}: {size} bytes, more than the limit of {MaxBytes} for an experiment config");
        string text;
        try
        {
            text = System.IO.File.ReadAllText(file, new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true));
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new LopperInputException($"{file}: not valid UTF-8");
        }
        var stream = new YamlStream();
        try
        {
            // The document model is built recursively; a flat pass over the events first bounds the depth, so a
            // deeply nested file is an error instead of a stack overflow.
            CheckDepth(text, file);
            using var reader = new StringReader(text);
            stream.Load(reader);
        }
        catch (YamlException e)
        {
            throw new LopperInputException($"{file}: invalid YAML at line {e.Start.Line}: {e.Message.ReplaceLineEndings(" ")}");
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet throws these (not a YamlException) on some malformed input: the scanner on a directive inside a
            // flow mapping, the document model on a mapping whose key is an empty plain scalar after a block end.
            throw new LopperInputException($"{file}: invalid YAML: {e.Message}");
        }
        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new LopperInputException($"{file}: expected one YAML document with a mapping at the top (name:, baseline:, methods:, ...)");
        return new YamlFields(root, file, "");
    }

    /// <summary>Largest config file accepted (bytes).</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>Deepest nesting of mappings and sequences accepted.</summary>
    public const int MaxDepth = 32;

    private static void CheckDepth(string text, string file)
    {
        var parser = new Parser(new StringReader(text));
        int depth = 0, nodes = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart:
                    if (++depth > MaxDepth) throw new LopperInputException($"{file}: nested deeper than {MaxDepth} levels at line {parser.Current!.Start.Line}");
                    break;
                case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd:
                    depth--;
                    break;
                case YamlDotNet.Core.Events.AnchorAlias:
                    // Aliases let a small file expand into a huge tree ("billion laughs"); configs need none.
                    throw new LopperInputException($"{file}: YAML aliases (*name) are not supported, at line {parser.Current!.Start.Line}");
            }
            if (++nodes > 100_000) throw new LopperInputException($"{file}: more than 100000 YAML events");
        }
    }

    /// <summary>An error about a field, naming the file, the field and its line.</summary>
    public LopperInputException Error(string key, string message, YamlNode? node = null)
    {
        node ??= Node(key);
        string line = node is null ? "" : $" (line {node.Start.Line})";
        return new LopperInputException($"{File}: field '{At}{key}' {message}{line}");
    }

    /// <summary>True when the key is present.</summary>
    public bool Has(string key) { _read.Add(key); return Node(key) is not null; }

    /// <summary>The raw node of a key, or null.</summary>
    public YamlNode? Node(string key)
    {
        _read.Add(key);
        return _map.Children.TryGetValue(new YamlScalarNode(key), out var n) ? n : null;
    }

    /// <summary>A scalar string, or null when absent.</summary>
    public string? Str(string key)
    {
        var n = Node(key);
        if (n is null) return null;
        if (n is YamlScalarNode s && s.Value is not null && !IsNull(s)) return s.Value;
        if (n is YamlScalarNode) return null;
        throw Error(key, "must be a single value, not a list or mapping");
    }

    /// <summary>A required scalar string.</summary>
    public string Required(string key) => Str(key) ?? throw Error(key, "is required");

    /// <summary>An integer of at least <paramref name="min"/>, or the fallback.</summary>
    public int Int(string key, int fallback, int min = int.MinValue)
    {
        var s = Str(key);
        if (s is null) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)) throw Error(key, $"must be an integer, got '{s}'");
        if (v < min) throw Error(key, $"must be at least {min}, got {v}");
        return v;
    }

    /// <summary>A list of integers (a single value counts as a list of one), or the fallback.</summary>
    public IReadOnlyList<int> Ints(string key, IReadOnlyList<int> fallback, int min = int.MinValue)
    {
        var items = List(key);
        if (items is null) return fallback;
        var r = new List<int>();
        for (int i = 0; i < items.Count; i++)
        {
            if (!int.TryParse(items[i].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min)
                throw Error(key, $"must be integers{(min > int.MinValue ? $" of at least {min}" : "")}, got '{items[i].Value}'", items[i]);
            r.Add(v);
        }
        if (r.Count == 0) throw Error(key, "must not be empty");
        return r;
    }

    /// <summary>A list of scalars (a single value counts as a list of one), or null when absent.</summary>
    public IReadOnlyList<YamlScalarNode>? List(string key)
    {
        var n = Node(key);
        if (n is null || n is YamlScalarNode { Value: null } || (n is YamlScalarNode s0 && IsNull(s0))) return null;
        if (n is YamlScalarNode one) return [one];
        if (n is not YamlSequenceNode seq) throw Error(key, "must be a value or a list of values");
        var r = new List<YamlScalarNode>();
        foreach (var item in seq.Children)
            r.Add(item as YamlScalarNode ?? throw Error(key, "must be a list of plain values", item));
        return r;
    }

    /// <summary>A nested mapping, or null when absent.</summary>
    public YamlFields? Map(string key)
    {
        var n = Node(key);
        if (n is null || n is YamlScalarNode s && IsNull(s)) return null;
        return n is YamlMappingNode m ? new YamlFields(m, File, $"{At}{key}.") : throw Error(key, "must be a mapping (key: value lines)");
    }

    /// <summary>A list of mappings, or null when absent.</summary>
    public IReadOnlyList<YamlFields>? Maps(string key)
    {
        var n = Node(key);
        if (n is null) return null;
        if (n is not YamlSequenceNode seq) throw Error(key, "must be a list of mappings (lines starting with '- ')");
        var r = new List<YamlFields>();
        for (int i = 0; i < seq.Children.Count; i++)
            r.Add(seq.Children[i] is YamlMappingNode m ? new YamlFields(m, File, $"{At}{key}[{i}].") : throw Error($"{key}[{i}]", "must be a mapping", seq.Children[i]));
        return r;
    }

    /// <summary>
    /// A mapping of command-line flags (flag: value) in file order: true gives a bare switch, false or null
    /// leaves the flag out, a list is joined with commas (milestones: [10, 15] → --milestones 10,15).
    /// </summary>
    public IReadOnlyList<(string Flag, string? Value)> Flags(string key)
    {
        var n = Node(key);
        if (n is null || n is YamlScalarNode s0 && IsNull(s0)) return [];
        if (n is not YamlMappingNode m) throw Error(key, "must be a mapping of flag: value");
        var r = new List<(string, string?)>();
        foreach (var (k, v) in m.Children)
        {
            string flag = (k as YamlScalarNode)?.Value ?? throw Error(key, "has a key that is not a plain name", k);
            if (flag.StartsWith('-')) throw Error($"{key}.{flag}", "must be the flag name without dashes", k);
            switch (v)
            {
                case YamlScalarNode sv when IsNull(sv) || sv.Value is "false" && sv.Style == ScalarStyle.Plain: break;
                case YamlScalarNode sv when sv.Value is "true" && sv.Style == ScalarStyle.Plain: r.Add((flag, null)); break;
                case YamlScalarNode sv: r.Add((flag, sv.Value)); break;
                case YamlSequenceNode seq:
                    var parts = new List<string>();
                    foreach (var item in seq.Children)
                        parts.Add((item as YamlScalarNode)?.Value ?? throw Error($"{key}.{flag}", "must be a list of plain values", item));
                    r.Add((flag, string.Join(',', parts)));
                    break;
                default: throw Error($"{key}.{flag}", "must be a value or a list of values", v);
            }
        }
        return r;
    }

    /// <summary>Fails on the first key nobody read (a misspelt or unsupported field).</summary>
    public void EnsureAllRead(string known)
    {
        foreach (var (k, _) in _map.Children)
        {
            string name = (k as YamlScalarNode)?.Value ?? "?";
            if (!_read.Contains(name)) throw Error(name, $"is not a known field (known here: {known})", k);
        }
    }

    private static bool IsNull(YamlScalarNode s)
        => s.Style == ScalarStyle.Plain && (s.Value is null or "" or "~" or "null" or "Null" or "NULL");
}
