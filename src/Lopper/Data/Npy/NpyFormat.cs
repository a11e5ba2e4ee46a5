using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Lopper.Data.Npy;

/// <summary>
/// A strict reader of NumPy's .npy format (versions 1.0, 2.0, 3.0): magic, header length, then a Python dict
/// literal with exactly 'descr', 'fortran_order' and 'shape'. Only little-endian or byte-sized numeric dtypes in
/// C order are accepted; the data length must match the shape before anything is allocated.
/// </summary>
public static class NpyFormat
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>The element size of each dtype the reader accepts.</summary>
    public static int ElementSize(string descr) => descr switch
    {
        "|u1" or "<u1" or "|i1" or "<i1" or "|b1" => 1,
        "<i4" or "<u4" or "<f4" => 4,
        "<i8" or "<u8" or "<f8" => 8,
        _ => 0,
    };

    /// <summary>Reads one array from <paramref name="stream"/> whose total length is <paramref name="length"/> bytes.</summary>
    /// <exception cref="LopperInputException">Not a .npy stream, a malformed header, an unsupported dtype, Fortran order, or a length that does not match the shape.</exception>
    public static NpyArray Read(Stream stream, long length, string source)
    {
        var pre = new byte[10];
        if (ReadFully(stream, pre) != pre.Length || !pre.AsSpan(0, 6).SequenceEqual(Magic))
            throw new LopperInputException($"{source}: not a .npy file (bad magic)");
        int major = pre[6];
        long headerLen;
        int prefix;
        if (major == 1) { headerLen = BinaryPrimitives.ReadUInt16LittleEndian(pre.AsSpan(8)); prefix = 10; }
        else if (major is 2 or 3)
        {
            var more = new byte[2];
            if (ReadFully(stream, more) != 2) throw new LopperInputException($"{source}: truncated .npy header");
            headerLen = BinaryPrimitives.ReadUInt32LittleEndian([pre[8], pre[9], more[0], more[1]]);
            prefix = 12;
        }
        else throw new LopperInputException($"{source}: .npy version {major}.{pre[7]} is not supported (1, 2 or 3)");
        if (headerLen > 1 << 20 || prefix + headerLen > length) throw new LopperInputException($"{source}: .npy header length {headerLen} does not fit the file");
        var header = new byte[headerLen];
        if (ReadFully(stream, header) != header.Length) throw new LopperInputException($"{source}: truncated .npy header");
        var (descr, fortran, shape) = ParseHeader(Encoding.Latin1.GetString(header), source);
        if (fortran) throw new LopperInputException($"{source}: Fortran-order arrays are not supported (save np.ascontiguousarray(a))");
        int size = ElementSize(descr);
        if (size == 0) throw new LopperInputException($"{source}: dtype '{descr}' is not supported (uint8, int32, int64 or float32, little-endian)");
        long count = 1;
        foreach (int d in shape)
        {
            count *= d;
            if (count > Array.MaxLength) throw new LopperInputException($"{source}: shape ({string.Join(", ", shape)}) is too large");
        }
        long dataBytes = count * size;
        long available = length - prefix - headerLen;
        if (available != dataBytes)
            throw new LopperInputException($"{source}: shape ({string.Join(", ", shape)}) of {descr} needs {dataBytes} data bytes, the file has {available}{(available < dataBytes ? " (truncated)" : "")}");
        if (dataBytes > Array.MaxLength) throw new LopperInputException($"{source}: {dataBytes} bytes is too large for one array");
        var data = new byte[dataBytes];
        if (ReadFully(stream, data) != data.Length) throw new LopperInputException($"{source}: truncated data");
        return new NpyArray(source, descr, shape, data);
    }

    /// <summary>Reads a .npy file.</summary>
    public static NpyArray ReadFile(string path)
    {
        try
        {
            using var fs = File.OpenRead(path);
            return Read(fs, fs.Length, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LopperInputException($"{path}: cannot read ({e.Message})");
        }
    }

    /// <summary>Writes a C-order little-endian .npy (version 1.0); used by tests and by anyone exporting data.</summary>
    public static byte[] Write(string descr, int[] shape, ReadOnlySpan<byte> data)
    {
        string shapeText = shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shapeText}, }}";
        int total = 10 + dict.Length + 1;
        int pad = (64 - total % 64) % 64;
        string header = dict + new string(' ', pad) + "\n";
        var ms = new MemoryStream();
        ms.Write(Magic);
        ms.WriteByte(1);
        ms.WriteByte(0);
        var len = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
        ms.Write(len);
        ms.Write(Encoding.Latin1.GetBytes(header));
        ms.Write(data);
        return ms.ToArray();
    }

    private static int ReadFully(Stream s, byte[] buffer) => s.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);

    /// <summary>Parses "{'descr': '&lt;u1', 'fortran_order': False, 'shape': (2, 3), }" and nothing looser.</summary>
    internal static (string Descr, bool Fortran, int[] Shape) ParseHeader(string text, string source)
    {
        var p = new Parser(text.TrimEnd(' ', '\n', '\0'), source);
        string? descr = null;
        bool? fortran = null;
        int[]? shape = null;
        p.Expect('{');
        while (!p.TryTake('}'))
        {
            string key = p.Quoted();
            p.Expect(':');
            switch (key)
            {
                case "descr" when descr is null: descr = p.Quoted(); break;
                case "fortran_order" when fortran is null: fortran = p.Bool(); break;
                case "shape" when shape is null: shape = p.Tuple(); break;
                default: throw p.Error($"unexpected or repeated key '{key}'");
            }
            if (!p.TryTake(',')) { p.Expect('}'); break; }
        }
        p.End();
        if (descr is null || fortran is null || shape is null) throw p.Error("header needs 'descr', 'fortran_order' and 'shape'");
        return (descr, fortran.Value, shape);
    }

    private sealed class Parser(string text, string source)
    {
        private int _pos;

        public LopperInputException Error(string what) => new($"{source}: malformed .npy header ({what}): {text}");

        private void SkipSpace() { while (_pos < text.Length && text[_pos] == ' ') _pos++; }

        public bool TryTake(char c)
        {
            SkipSpace();
            if (_pos < text.Length && text[_pos] == c) { _pos++; return true; }
            return false;
        }

        public void Expect(char c) { if (!TryTake(c)) throw Error($"expected '{c}' at {_pos}"); }

        public void End() { SkipSpace(); if (_pos != text.Length) throw Error($"trailing text at {_pos}"); }

        public string Quoted()
        {
            SkipSpace();
            if (_pos >= text.Length || text[_pos] is not ('\'' or '"')) throw Error($"expected a quoted string at {_pos}");
            char q = text[_pos++];
            int end = text.IndexOf(q, _pos);
            if (end < 0) throw Error("unterminated string");
            string s = text[_pos..end];
            _pos = end + 1;
            return s;
        }

        public bool Bool()
        {
            SkipSpace();
            if (text.AsSpan(_pos).StartsWith("True")) { _pos += 4; return true; }
            if (text.AsSpan(_pos).StartsWith("False")) { _pos += 5; return false; }
            throw Error($"expected True or False at {_pos}");
        }

        public int[] Tuple()
        {
            Expect('(');
            var dims = new List<int>();
            while (!TryTake(')'))
            {
                SkipSpace();
                int start = _pos;
                while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
                if (!int.TryParse(text.AsSpan(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out int d))
                    throw Error($"expected a dimension at {start}");
                dims.Add(d);
                if (!TryTake(',')) { Expect(')'); break; }
            }
            return dims.ToArray();
        }
    }
}
