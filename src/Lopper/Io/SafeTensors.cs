using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Io;

/// <summary>
/// The safetensors format: 8-byte little-endian header length, a JSON header mapping each name to
/// dtype, shape and [begin, end) byte offsets into the data section, then the raw little-endian data.
/// Only F32 is written; F32 is read. Optional string metadata goes under "__metadata__".
/// </summary>
public static class SafeTensors
{
    /// <summary>Writes tensors (in the given order) and metadata to <paramref name="path"/> atomically.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        foreach (var (name, t) in list)
        {
            long bytes = (long)t.Length * 4;
            header[name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        // Pad the header with spaces so the data section starts 8-byte aligned, as the reference writer does.
        int padded = (headerBytes.Length + 7) / 8 * 8;
        AtomicFile.Write(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            s.Write(len);
            s.Write(headerBytes);
            for (int i = headerBytes.Length; i < padded; i++) s.WriteByte((byte)' ');
            foreach (var (_, t) in list)
            {
                if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
                s.Write(MemoryMarshal.AsBytes(t.Span));
            }
        });
    }

    /// <summary>Reads every tensor and the metadata; malformed files fail naming the file.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Load(string path)
    {
        if (!File.Exists(path)) throw new LopperInputException($"{path}: file not found");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new LopperInputException($"{path}: truncated (no header length)");
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLen > (ulong)(bytes.Length - 8)) throw new LopperInputException($"{path}: header length {headerLen} exceeds file size {bytes.Length}");
        JsonObject header;
        try
        {
            header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLen)) as JsonObject
                ?? throw new LopperInputException($"{path}: header is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new LopperInputException($"{path}: header is not valid JSON ({e.Message})");
        }
        long dataStart = 8 + (long)headerLen, dataLen = bytes.Length - dataStart;
        var tensors = new Dictionary<string, Tensor>();
        var metadata = new Dictionary<string, string>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is JsonObject m) foreach (var (k, v) in m) metadata[k] = v?.ToString() ?? "";
                continue;
            }
            if (node is not JsonObject o) throw new LopperInputException($"{path}: entry '{name}' is not an object");
            string dtype = (string?)o["dtype"] ?? "";
            if (dtype != "F32") throw new LopperInputException($"{path}: tensor '{name}' has dtype {dtype}; only F32 is supported");
            var shape = (o["shape"] as JsonArray ?? throw new LopperInputException($"{path}: tensor '{name}' has no shape")).Select(v => (int)v!).ToArray();
            var offs = o["data_offsets"] as JsonArray ?? throw new LopperInputException($"{path}: tensor '{name}' has no data_offsets");
            long begin = (long)offs[0]!, end = (long)offs[1]!;
            long expected = (long)Tensor.Numel(shape) * 4;
            if (begin < 0 || end > dataLen || end - begin != expected)
                throw new LopperInputException($"{path}: tensor '{name}' offsets [{begin},{end}) do not fit shape {Tensor.Format(shape)} in {dataLen} data bytes (truncated?)");
            var data = new float[expected / 4];
            MemoryMarshal.Cast<byte, float>(bytes.AsSpan((int)(dataStart + begin), (int)expected)).CopyTo(data);
            tensors[name] = new Tensor(shape, data);
        }
        return (tensors, metadata);
    }
}
