using System.CommandLine;
using System.Globalization;
using Lopper.Onnx;

namespace Lopper.Cli.Commands;

/// <summary>`lopper import MODEL.onnx --out DIR`: an ONNX classifier as an ordinary Lopper model folder.</summary>
public static class ImportCommand
{
    private static readonly Argument<string?> Model = new("MODEL.onnx") { Description = "the ONNX classifier", Arity = ArgumentArity.ZeroOrOne };
    private static readonly Option<string> Out = Flags.Required("--out", "DIR", "the model folder to write");
    private static readonly Option<float[]?> Mean = Flags.Floats("--mean", "the per-channel mean the model expects on 0..1 pixels (recorded in preprocessing.json)");
    private static readonly Option<float[]?> Std = Flags.Floats("--std", "the per-channel standard deviation (with --mean)");
    private static readonly Option<int[]?> InputShape = Flags.Shape("--input-shape", "per-image shape when the file leaves C, H or W symbolic");
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("import", "ONNX classifier to a Lopper model folder") { Model, Out, Mean, Std, InputShape, Json };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string path = p.GetValue(Model) ?? throw new LopperInputException("give the ONNX file: lopper import MODEL.onnx --out DIR");
        string outDir = p.GetValue(Out)!;
        var mean = p.ValueOrNull(Mean);
        var std = p.ValueOrNull(Std);
        var shape = p.ValueOrNull(InputShape);
        bool json = p.GetValue(Json);
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
