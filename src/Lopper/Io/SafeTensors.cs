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

    /// <summary>Largest header accepted (the reference implementation's limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>
    /// Reads every tensor and the metadata. The header is validated in full against the format's rules
    /// (size limit, strict UTF-8, a JSON object, string dtypes, unique names, two ascending offsets per tensor,
    /// offsets that tile the data section exactly, non-negative dimensions whose overflow-checked product
    /// matches the bytes) before any tensor is allocated, so no allocation exceeds the file's own size.
    /// </summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Load(string path)
    {
        if (!File.Exists(path)) throw new LopperInputException($"{path}: file not found");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        long fileLen = fs.Length;
        if (fileLen < 8) throw new LopperInputException($"{path}: truncated (no header length)");
        Span<byte> lenBytes = stackalloc byte[8];
        fs.ReadExactly(lenBytes);
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (headerLen > MaxHeaderBytes) throw new LopperInputException($"{path}: header length {headerLen} exceeds the format's limit of {MaxHeaderBytes} bytes");
        if (headerLen > (ulong)(fileLen - 8)) throw new LopperInputException($"{path}: header length {headerLen} exceeds file size {fileLen}");
        var headerBytes = new byte[headerLen];
        fs.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLen, dataLen = fileLen - dataStart;
        var (entries, metadata) = ParseHeader(headerBytes, dataLen, path);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
        foreach (var e in entries)
        {
            var data = new float[e.Elements];
            fs.Position = dataStart + e.Begin;
            fs.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
            tensors[e.Name] = new Tensor(e.Shape, data);
        }
        return (tensors, metadata);
    }

    private sealed record Entry(string Name, int[] Shape, int Elements, long Begin, long End);

    private static (List<Entry> Entries, Dictionary<string, string> Metadata) ParseHeader(byte[] headerBytes, long dataLen, string path)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(headerBytes);
        }
        catch (DecoderFallbackException)
        {
            throw new LopperInputException($"{path}: header is not valid UTF-8");
        }
        if (text.Length == 0 || text[0] != '{') throw new LopperInputException($"{path}: header must start with '{{'");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 8, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new LopperInputException($"{path}: header is not valid JSON ({e.Message})");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new LopperInputException($"{path}: header is not a JSON object");
            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                string name = prop.Name;
                if (!seen.Add(name)) throw new LopperInputException($"{path}: duplicate entry '{name}' in the header");
                if (name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw new LopperInputException($"{path}: '__metadata__' must be an object of strings");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw new LopperInputException($"{path}: metadata '{m.Name}' must be a string");
                        if (!metadata.TryAdd(m.Name, m.Value.GetString()!)) throw new LopperInputException($"{path}: duplicate metadata key '{m.Name}'");
                    }
                    continue;
                }
                entries.Add(ParseEntry(prop.Value, name, dataLen, path));
            }
            // The offsets must tile the data section: sorted by start, each tensor begins where the previous ends,
            // the first at 0 and the last at the end of the file. This rules out overlaps, gaps and trailing bytes.
            entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            long expect = 0;
            foreach (var e in entries)
            {
                if (e.Begin != expect)
                    throw new LopperInputException($"{path}: tensor '{e.Name}' starts at byte {e.Begin} of the data, expected {expect} (tensors must be contiguous and non-overlapping)");
                expect = e.End;
            }
            if (expect != dataLen)
                throw new LopperInputException($"{path}: tensors cover {expect} of the {dataLen} data bytes (truncated file or unreferenced bytes)");
            return (entries, metadata);
        }
    }

    private static Entry ParseEntry(JsonElement o, string name, long dataLen, string path)
    {
        if (o.ValueKind != JsonValueKind.Object) throw new LopperInputException($"{path}: entry '{name}' is not an object");
        JsonElement dtypeEl = default, shapeEl = default, offsEl = default;
        bool hasDtype = false, hasShape = false, hasOffs = false;
        foreach (var f in o.EnumerateObject())
        {
            switch (f.Name)
            {
                case "dtype": if (hasDtype) throw Dup(); dtypeEl = f.Value; hasDtype = true; break;
                case "shape": if (hasShape) throw Dup(); shapeEl = f.Value; hasShape = true; break;
                case "data_offsets": if (hasOffs) throw Dup(); offsEl = f.Value; hasOffs = true; break;
                default: throw new LopperInputException($"{path}: tensor '{name}' has unknown field '{f.Name}'");
            }
            LopperInputException Dup() => new($"{path}: tensor '{name}' repeats field '{f.Name}'");
        }
        if (!hasDtype || dtypeEl.ValueKind != JsonValueKind.String) throw new LopperInputException($"{path}: tensor '{name}' needs a string 'dtype'");
        string dtype = dtypeEl.GetString()!;
        if (dtype != "F32") throw new LopperInputException($"{path}: tensor '{name}' has dtype {dtype}; only F32 is supported");
        if (!hasShape || shapeEl.ValueKind != JsonValueKind.Array) throw new LopperInputException($"{path}: tensor '{name}' needs a 'shape' array");
        if (shapeEl.GetArrayLength() > 8) throw new LopperInputException($"{path}: tensor '{name}' has {shapeEl.GetArrayLength()} dimensions (at most 8 are supported)");
        var shape = new int[shapeEl.GetArrayLength()];
        long elements = 1;
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int v) || v < 0)
                throw new LopperInputException($"{path}: tensor '{name}' dimension {i} must be an integer in [0, {int.MaxValue}], got {d.GetRawText()}");
            shape[i++] = v;
            // Checked against the data size before every factor, so the product can never overflow.
            if (v != 0 && elements > dataLen / 4 / v)
                throw new LopperInputException($"{path}: tensor '{name}' shape {Tensor.Format(shape[..i])}... needs more than the file's {dataLen} data bytes");
            elements *= v;
        }
        if (elements > Array.MaxLength) throw new LopperInputException($"{path}: tensor '{name}' has {elements} elements, more than one array holds");
        if (!hasOffs || offsEl.ValueKind != JsonValueKind.Array || offsEl.GetArrayLength() != 2)
            throw new LopperInputException($"{path}: tensor '{name}' needs 'data_offsets' as exactly two integers [begin, end]");
        var offs = new long[2];
        i = 0;
        foreach (var d in offsEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out offs[i]) || offs[i] < 0)
                throw new LopperInputException($"{path}: tensor '{name}' data_offsets must be non-negative integers, got {offsEl.GetRawText()}");
            i++;
        }
        long begin = offs[0], end = offs[1];
        if (end < begin) throw new LopperInputException($"{path}: tensor '{name}' data_offsets [{begin},{end}] are not ascending");
        if (end > dataLen) throw new LopperInputException($"{path}: tensor '{name}' ends at byte {end} but the data section has {dataLen} (truncated?)");
        if (end - begin != elements * 4)
            throw new LopperInputException($"{path}: tensor '{name}' offsets [{begin},{end}) hold {end - begin} bytes, shape {Tensor.Format(shape)} needs {elements * 4}");
        return new Entry(name, shape, (int)elements, begin, end);
    }
}
