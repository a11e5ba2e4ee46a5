using System.CommandLine;
using Lopper.Onnx;

namespace Lopper.Cli.Commands;

/// <summary>`lopper export DIR --onnx OUT.onnx`: any model folder (dense, masked or compacted) as an ONNX file.</summary>
public static class ExportCommand
{
    private static readonly Argument<string?> Dir = new("DIR") { Description = "the model folder (dense, masked or compacted)", Arity = ArgumentArity.ZeroOrOne };
    private static readonly Option<string> Onnx = Flags.Required("--onnx", "OUT.onnx", "the ONNX file to write");
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("export", "model folder to ONNX (opset 13, dynamic batch; Lopper's record in metadata_props)") { Dir, Onnx, Json };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string dir = p.GetValue(Dir) ?? throw new LopperInputException("give the model folder: lopper export DIR --onnx OUT.onnx");
        string outPath = p.GetValue(Onnx)!;
        bool json = p.GetValue(Json);
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
