using Lopper.Onnx;

namespace Lopper.Cli.Commands;

/// <summary>`lopper export DIR --onnx OUT.onnx`: any model folder (dense, masked or compacted) as an ONNX file.</summary>
public static class ExportCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "help", "json" });
        const string usage = "lopper export DIR --onnx OUT.onnx [--json]   (opset 13, dynamic batch; Lopper's record in metadata_props)";
        if (a.Flag("help")) { Console.WriteLine(usage); return 0; }
        if (a.Positional.Count == 0) { Console.Error.WriteLine(usage); return 2; }
        string dir = a.Positional[0];
        string outPath = a.Required("onnx");
        bool json = a.Flag("json");
        a.EnsureAllUsed(positionalAllowed: 1);
        var meta = ModelFolders.Export(dir, outPath);
        if (json)
        {
            var o = new System.Text.Json.Nodes.JsonObject { ["from"] = Path.GetFullPath(dir), ["onnx"] = Path.GetFullPath(outPath) };
            foreach (var (k, v) in meta) o[k] = v;
            JsonOutput.Print(o);
            return 0;
        }
        Console.WriteLine($"exported {dir} to {outPath}: {meta["lopper.params"]} params, {meta["lopper.macs"]} MACs" +
            (meta.TryGetValue("lopper.accuracy", out var acc) ? $", accuracy {acc}" : ", no accuracy recorded"));
        return 0;
    }
}
