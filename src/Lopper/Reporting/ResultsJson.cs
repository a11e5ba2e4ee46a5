using System.Text.Json;
using System.Text.Json.Nodes;
using Lopper.Io;

namespace Lopper.Reporting;

/// <summary>
/// Reads and writes results.json (and the per-cell cell.json) with snake_case fields. Reading is strict
/// about types and names the first bad field, so a hand-edited or truncated file fails clearly.
/// </summary>
public static class ResultsJson
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Serializes a whole results file.</summary>
    public static string Serialize(ExperimentResults r) => ToJson(r).ToJsonString(Indented);

    /// <summary>Writes a results file atomically (a reader sees the old or the new file, never half).</summary>
    public static void Save(ExperimentResults r, string path) => AtomicFile.WriteText(path, Serialize(r));

    /// <summary>Loads a results file.</summary>
    /// <exception cref="LopperInputException">Missing file, invalid JSON or a bad field (named).</exception>
    public static ExperimentResults Load(string path)
    {
        if (!File.Exists(path)) throw new LopperInputException($"{path}: results file not found");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses a results file; <paramref name="source"/> names it in errors.</summary>
    public static ExperimentResults Parse(string text, string source)
    {
        var o = ParseObject(text, source);
        var format = Str(o, "format", source, "");
        if (format != ExperimentResults.Format) throw new LopperInputException($"{source}: format must be '{ExperimentResults.Format}', got '{format}'");
        var cells = new List<CellResult>();
        if (o["cells"] is not JsonArray arr) throw new LopperInputException($"{source}: field 'cells' must be an array");
        for (int i = 0; i < arr.Count; i++)
            cells.Add(CellFromJson(arr[i] as JsonObject ?? throw new LopperInputException($"{source}: field 'cells[{i}]' must be an object"), source, $"cells[{i}]."));
        BaselineResult? baseline = null;
        if (o["baseline"] is JsonObject b)
        {
            baseline = new BaselineResult
            {
                Dir = Str(b, "dir", source, "baseline.") ?? throw Missing(source, "baseline.dir"),
                Trained = Bool(b, "trained", source, "baseline."),
                Model = Str(b, "model", source, "baseline."),
                Accuracy = Real(b, "accuracy", source, "baseline."),
                Params = Long(b, "params", source, "baseline."),
                Macs = Long(b, "macs", source, "baseline."),
                Epochs = (int?)Long(b, "epochs", source, "baseline."),
                Seconds = Real(b, "seconds", source, "baseline.") ?? 0,
            };
        }
        return new ExperimentResults
        {
            Name = Str(o, "name", source, "") ?? throw Missing(source, "name"),
            Config = Str(o, "config", source, ""),
            Dataset = Str(o, "dataset", source, ""),
            Threads = (int)(Long(o, "threads", source, "") ?? 0),
            Baseline = baseline,
            Cells = cells,
            UpdatedUtc = Str(o, "updated_utc", source, ""),
        };
    }

    /// <summary>The JSON object of a results file.</summary>
    public static JsonObject ToJson(ExperimentResults r)
    {
        var cells = new JsonArray();
        foreach (var c in r.Cells) cells.Add(CellToJson(c));
        JsonObject? baseline = r.Baseline is not { } b ? null : new JsonObject
        {
            ["dir"] = b.Dir, ["trained"] = b.Trained, ["model"] = b.Model, ["accuracy"] = b.Accuracy,
            ["params"] = b.Params, ["macs"] = b.Macs, ["epochs"] = b.Epochs, ["seconds"] = b.Seconds,
        };
        return new JsonObject
        {
            ["format"] = ExperimentResults.Format,
            ["name"] = r.Name,
            ["config"] = r.Config,
            ["dataset"] = r.Dataset,
            ["threads"] = r.Threads,
            ["updated_utc"] = r.UpdatedUtc,
            ["baseline"] = baseline,
            ["cells"] = cells,
        };
    }

    /// <summary>The JSON object of one cell (the content of its cell.json).</summary>
    public static JsonObject CellToJson(CellResult c)
    {
        var seconds = new JsonObject();
        foreach (var (k, v) in c.Seconds) seconds[k] = v;
        var args = new JsonArray();
        foreach (var a in c.Args) args.Add(a);
        return new JsonObject
        {
            ["id"] = c.Id, ["label"] = c.Label, ["method"] = c.Method, ["kind"] = c.Kind,
            ["budget_flag"] = c.BudgetFlag, ["budget"] = c.Budget, ["seed"] = c.Seed, ["epochs"] = c.Epochs,
            ["status"] = c.Status, ["error"] = c.Error, ["dir"] = c.Dir, ["source"] = c.Source, ["model"] = c.Model,
            ["accuracy_before"] = c.AccuracyBefore, ["accuracy_pruned"] = c.AccuracyPruned, ["accuracy_finetuned"] = c.AccuracyFinetuned,
            ["params_before"] = c.ParamsBefore, ["params_after"] = c.ParamsAfter,
            ["macs_before"] = c.MacsBefore, ["macs_after"] = c.MacsAfter,
            ["latency_batch"] = c.LatencyBatch, ["latency_threads"] = c.LatencyThreads, ["latency_ms_before"] = c.LatencyMsBefore, ["latency_ms_after"] = c.LatencyMsAfter,
            ["seconds"] = seconds,
            ["args"] = args,
        };
    }

    /// <summary>Parses one cell's JSON text (a cell.json file).</summary>
    public static CellResult ParseCell(string text, string source) => CellFromJson(ParseObject(text, source), source, "");

    private static CellResult CellFromJson(JsonObject o, string source, string at)
    {
        var seconds = new Dictionary<string, double>(StringComparer.Ordinal);
        if (o["seconds"] is JsonObject s)
            foreach (var (k, v) in s) seconds[k] = Real(s, k, source, at + "seconds.") ?? throw Missing(source, at + "seconds." + k);
        var args = new List<string>();
        if (o["args"] is JsonArray a)
            for (int i = 0; i < a.Count; i++)
                args.Add(a[i] is JsonValue v && v.TryGetValue(out string? str) ? str : throw new LopperInputException($"{source}: field '{at}args[{i}]' must be a string"));
        return new CellResult
        {
            Id = Str(o, "id", source, at) ?? throw Missing(source, at + "id"),
            Label = Str(o, "label", source, at) ?? throw Missing(source, at + "label"),
            Method = Str(o, "method", source, at) ?? throw Missing(source, at + "method"),
            Kind = Str(o, "kind", source, at) ?? throw Missing(source, at + "kind"),
            BudgetFlag = Str(o, "budget_flag", source, at),
            Budget = Str(o, "budget", source, at),
            Seed = Long(o, "seed", source, at) ?? 0,
            Epochs = (int)(Long(o, "epochs", source, at) ?? 0),
            Status = Str(o, "status", source, at) switch
            {
                CellResult.Ok => CellResult.Ok,
                CellResult.Failed => CellResult.Failed,
                var st => throw new LopperInputException($"{source}: field '{at}status' must be '{CellResult.Ok}' or '{CellResult.Failed}', got '{st}'"),
            },
            Error = Str(o, "error", source, at),
            Dir = Str(o, "dir", source, at) ?? throw Missing(source, at + "dir"),
            Source = Str(o, "source", source, at),
            Model = Str(o, "model", source, at),
            Args = args,
            AccuracyBefore = Real(o, "accuracy_before", source, at),
            AccuracyPruned = Real(o, "accuracy_pruned", source, at),
            AccuracyFinetuned = Real(o, "accuracy_finetuned", source, at),
            ParamsBefore = Long(o, "params_before", source, at),
            ParamsAfter = Long(o, "params_after", source, at),
            MacsBefore = Long(o, "macs_before", source, at),
            MacsAfter = Long(o, "macs_after", source, at),
            LatencyBatch = (int?)Long(o, "latency_batch", source, at),
            LatencyThreads = (int?)Long(o, "latency_threads", source, at),
            LatencyMsBefore = Real(o, "latency_ms_before", source, at),
            LatencyMsAfter = Real(o, "latency_ms_after", source, at),
            Seconds = seconds,
        };
    }

    private static JsonObject ParseObject(string text, string source)
    {
        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new LopperInputException($"{source}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new LopperInputException($"{source}: invalid JSON: {e.Message}");
        }
    }

    private static LopperInputException Missing(string source, string field) => new($"{source}: field '{field}' is missing");

    private static string? Str(JsonObject o, string key, string source, string at)
    {
        var n = o[key];
        if (n is null) return null;
        if (n is JsonValue v && v.TryGetValue(out string? s)) return s;
        throw new LopperInputException($"{source}: field '{at}{key}' must be a string");
    }

    private static bool Bool(JsonObject o, string key, string source, string at)
    {
        var n = o[key];
        if (n is null) return false;
        if (n is JsonValue v && v.TryGetValue(out bool b)) return b;
        throw new LopperInputException($"{source}: field '{at}{key}' must be true or false");
    }

    private static double? Real(JsonObject o, string key, string source, string at)
    {
        var n = o[key];
        if (n is null) return null;
        if (n is JsonValue v && v.GetValueKind() == JsonValueKind.Number) return v.GetValue<double>();
        throw new LopperInputException($"{source}: field '{at}{key}' must be a number");
    }

    private static long? Long(JsonObject o, string key, string source, string at)
    {
        var n = o[key];
        if (n is null) return null;
        if (n is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
        {
            double d = v.GetValue<double>();
            if (d == Math.Floor(d) && Math.Abs(d) < 9e15) return (long)d;
        }
        throw new LopperInputException($"{source}: field '{at}{key}' must be an integer");
    }
}
