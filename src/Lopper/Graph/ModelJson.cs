using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lopper.Graph;

/// <summary>
/// Reads and writes model.json: the graph only (names, ops, attributes, wiring), no weights.
/// Writing what was read gives the same text, so a model round-trips exactly.
/// </summary>
public static class ModelJson
{
    /// <summary>Format tag written into every file.</summary>
    public const string Format = "lopper.model/1";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The graph as a JSON document.</summary>
    public static JsonObject ToJson(ModelGraph graph)
    {
        var nodes = new JsonArray();
        foreach (var n in graph.Nodes)
        {
            var o = new JsonObject { ["name"] = n.Name, ["op"] = n.Op.Type };
            if (n.Inputs.Length > 0) o["inputs"] = new JsonArray(n.Inputs.Select(s => (JsonNode)s).ToArray());
            var attrs = n.Op.Attributes();
            if (attrs.Count > 0) o["attrs"] = attrs;
            nodes.Add(o);
        }
        return new JsonObject { ["format"] = Format, ["name"] = graph.Name, ["nodes"] = nodes };
    }

    /// <summary>The graph as indented JSON text.</summary>
    public static string Serialize(ModelGraph graph) => ToJson(graph).ToJsonString(Indented);

    /// <summary>Largest model.json accepted (characters); real graphs are a few hundred kilobytes at most.</summary>
    public const int MaxChars = 16 << 20;

    /// <summary>
    /// Parses model.json text; <paramref name="source"/> names the file in errors. Every field's JSON type is
    /// checked (a wrong type is an error naming the node and field, never a fallback), then the graph's structure
    /// (one input node first, inputs that name earlier nodes, so the graph is acyclic, and shapes).
    /// </summary>
    public static ModelGraph Parse(string text, string source = "model.json")
    {
        if (text.Length > MaxChars) throw new LopperInputException($"{source}: {text.Length} characters, more than the limit of {MaxChars}");
        JsonObject root;
        try
        {
            root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 32, AllowDuplicateProperties = false }) as JsonObject ?? throw new LopperInputException($"{source}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new LopperInputException($"{source}: invalid JSON: {e.Message}");
        }
        CheckUniqueKeys(root, source, "top level");
        if (String(root, "format", source, "top level") != Format) throw new LopperInputException($"{source}: field 'format' must be '{Format}'");
        string name = String(root, "name", source, "top level");
        if (root["nodes"] is not JsonArray arr) throw new LopperInputException($"{source}: field 'nodes' must be an array of nodes");
        var nodes = new List<Node>();
        for (int k = 0; k < arr.Count; k++)
        {
            if (arr[k] is not JsonObject o) throw new LopperInputException($"{source}: nodes[{k}] must be an object");
            string where = $"nodes[{k}]";
            CheckUniqueKeys(o, source, where);
            string nodeName = String(o, "name", source, where);
            where = $"node {nodeName}";
            string type = String(o, "op", source, where);
            foreach (var (key, _) in o)
                if (key is not ("name" or "op" or "inputs" or "attrs")) throw new LopperInputException($"{source}: {where}: unknown field '{key}'");
            string[] inputs = [];
            if (o["inputs"] is { } inNode)
            {
                if (inNode is not JsonArray ia) throw new LopperInputException($"{source}: {where}: field 'inputs' must be an array of node names");
                inputs = new string[ia.Count];
                for (int j = 0; j < ia.Count; j++)
                    inputs[j] = ia[j] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
                        : throw new LopperInputException($"{source}: {where}: inputs[{j}] must be a node name (string)");
            }
            JsonObject attrs;
            if (o["attrs"] is null) attrs = new JsonObject();
            else if (o["attrs"] is JsonObject ao) { CheckUniqueKeys(ao, source, where + " attrs"); attrs = ao; }
            else throw new LopperInputException($"{source}: {where}: field 'attrs' must be an object");
            try
            {
                nodes.Add(new Node(nodeName, OpRegistry.Create(type, attrs), inputs));
            }
            catch (LopperInputException e)
            {
                throw new LopperInputException($"{source}: node {nodeName}: {e.Message}");
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException or ArithmeticException)
            {
                throw new LopperInputException($"{source}: node {nodeName}: bad attribute: {e.Message}");
            }
        }
        try
        {
            return new ModelGraph(name, nodes);
        }
        catch (LopperInputException e)
        {
            throw new LopperInputException($"{source}: {e.Message}");
        }
    }

    private static string String(JsonObject o, string field, string source, string where)
    {
        if (!o.TryGetPropertyValue(field, out var n) || n is null) throw new LopperInputException($"{source}: {where}: field '{field}' missing");
        if (n is not JsonValue v || v.GetValueKind() != JsonValueKind.String) throw new LopperInputException($"{source}: {where}: field '{field}' must be a string, got {n.GetValueKind().ToString().ToLowerInvariant()}");
        return v.GetValue<string>();
    }

    // JsonObject keeps the last of two equal keys silently; a file that says two things is refused instead.
    private static void CheckUniqueKeys(JsonObject o, string source, string where)
    {
        if (o.Count < 2) return;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (k, _) in o) if (!seen.Add(k)) throw new LopperInputException($"{source}: {where}: field '{k}' given twice");
    }

    /// <summary>Reads model.json from disk.</summary>
    public static ModelGraph Load(string path)
    {
        if (!File.Exists(path)) throw new LopperInputException($"{path}: file not found");
        if (new FileInfo(path).Length > MaxChars * 4L) throw new LopperInputException($"{path}: larger than the limit of {MaxChars} characters");
        string text;
        try
        {
            text = File.ReadAllText(path, new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true));
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new LopperInputException($"{path}: not valid UTF-8");
        }
        return Parse(text, path);
    }
}
