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

    /// <summary>Parses model.json text; <paramref name="source"/> names the file in errors.</summary>
    public static ModelGraph Parse(string text, string source = "model.json")
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(text) as JsonObject ?? throw new LopperInputException($"{source}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new LopperInputException($"{source}: invalid JSON: {e.Message}");
        }
        if ((string?)root["format"] != Format) throw new LopperInputException($"{source}: field 'format' must be '{Format}'");
        string name = (string?)root["name"] ?? throw new LopperInputException($"{source}: field 'name' missing");
        if (root["nodes"] is not JsonArray arr) throw new LopperInputException($"{source}: field 'nodes' missing");
        var nodes = new List<Node>();
        foreach (var item in arr)
        {
            if (item is not JsonObject o) throw new LopperInputException($"{source}: every entry of 'nodes' must be an object");
            string nodeName = (string?)o["name"] ?? throw new LopperInputException($"{source}: a node has no 'name'");
            string type = (string?)o["op"] ?? throw new LopperInputException($"{source}: node {nodeName} has no 'op'");
            var inputs = o["inputs"] is JsonArray ia ? ia.Select(v => (string?)v ?? "").ToArray() : [];
            var attrs = o["attrs"] as JsonObject ?? new JsonObject();
            try
            {
                nodes.Add(new Node(nodeName, OpRegistry.Create(type, attrs), inputs));
            }
            catch (LopperInputException e)
            {
                throw new LopperInputException($"{source}: node {nodeName}: {e.Message}");
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
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

    /// <summary>Reads model.json from disk.</summary>
    public static ModelGraph Load(string path)
    {
        if (!File.Exists(path)) throw new LopperInputException($"{path}: file not found");
        return Parse(File.ReadAllText(path), path);
    }
}
