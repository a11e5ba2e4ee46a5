using Google.Protobuf;
using Lopper.Onnx.Proto;

namespace Lopper.Onnx;

/// <summary>Reads and writes .onnx files (one protobuf ModelProto), refusing anything malformed with one line.</summary>
public static class OnnxFile
{
    /// <summary>Largest .onnx file Lopper reads: protobuf itself cannot hold a message over 2 GiB.</summary>
    public const long MaxFileBytes = int.MaxValue;

    /// <summary>Parses the model in <paramref name="path"/>; a missing, oversized, truncated or garbled file fails naming it.</summary>
    public static ModelProto Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new LopperInputException($"{path}: file not found");
        if (info.Length == 0) throw new LopperInputException($"{path}: empty file, not an ONNX model");
        if (info.Length > MaxFileBytes) throw new LopperInputException($"{path}: {info.Length} bytes is over protobuf's 2 GiB limit (models with external data are not supported)");
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses a serialized ModelProto; <paramref name="source"/> names it in errors.</summary>
    public static ModelProto Parse(byte[] bytes, string source)
    {
        ModelProto model;
        try
        {
            // The recursion limit bounds nesting (subgraphs in attributes); lengths are checked by the parser
            // against the bytes actually present, so a truncated or lying length prefix cannot make it allocate.
            model = ModelProto.Parser.WithDiscardUnknownFields(true).ParseFrom(new CodedInputStream(bytes));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new LopperInputException($"{source}: not a valid ONNX file (protobuf: {e.Message})");
        }
        if (model.Graph is null || model.Graph.Node.Count == 0)
            throw new LopperInputException($"{source}: not an ONNX model (no graph or no nodes)");
        return model;
    }

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> atomically.</summary>
    public static void Save(ModelProto model, string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = path + ".tmp";
        using (var f = File.Create(tmp)) model.WriteTo(f);
        File.Move(tmp, path, overwrite: true);
    }
}
