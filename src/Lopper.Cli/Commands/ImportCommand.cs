using System.Globalization;
using Lopper.Onnx;

namespace Lopper.Cli.Commands;

/// <summary>`lopper import MODEL.onnx --out DIR`: an ONNX classifier as an ordinary Lopper model folder.</summary>
public static class ImportCommand
{
    private const string Usage = "lopper import MODEL.onnx --out DIR [--mean a,b,c --std a,b,c] [--input-shape CxHxW] [--json]\n" +
        "  --mean/--std: the per-channel normalisation the model expects on 0..1 pixels (recorded in preprocessing.json)\n" +
        "  --input-shape: per-image shape when the file leaves C, H or W symbolic";

    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "help", "json" });
        if (a.Flag("help")) { Console.WriteLine(Usage); return 0; }
        if (a.Positional.Count == 0) { Console.Error.WriteLine(Usage); return 2; }
        string path = a.Positional[0];
        string outDir = a.Required("out");
        var mean = DataFlags.Floats(a, "mean");
        var std = DataFlags.Floats(a, "std");
        var shape = a.Shape("input-shape");
        bool json = a.Flag("json");
        a.EnsureAllUsed(positionalAllowed: 1);
        if ((mean is null) != (std is null)) throw new LopperInputException("give both --mean and --std, or neither");
        var r = ModelFolders.Import(path, outDir, mean, std, shape);
        var g = r.Model.Graph;
        if (json)
        {
            JsonOutput.Print(new System.Text.Json.Nodes.JsonObject
            {
                ["onnx"] = Path.GetFullPath(path), ["producer"] = r.Producer, ["opset"] = r.Opset, ["layers"] = g.Nodes.Count - 1,
                ["input_shape"] = new System.Text.Json.Nodes.JsonArray([.. g.InputShape.Select(d => (System.Text.Json.Nodes.JsonNode?)d)]),
                ["classes"] = g.Classes, ["params"] = r.Model.ParameterCount(), ["macs"] = g.Macs(), ["out"] = Path.GetFullPath(outDir),
            });
            return 0;
        }
        Console.WriteLine($"imported {path} ({r.Producer}, opset {r.Opset}): {g.Nodes.Count - 1} layers, input {string.Join("x", g.InputShape)}, " +
            $"{g.Classes} classes, {r.Model.ParameterCount():N0} params, {g.Macs():N0} MACs; saved to {outDir}");
        return 0;
    }
}
