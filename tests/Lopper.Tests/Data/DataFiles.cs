using System.Buffers.Binary;
using System.IO.Compression;

namespace Lopper.Tests.Data;

/// <summary>A scratch directory deleted when the test ends.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lopper-data-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>Writers for small IDX and CIFAR files, including deliberately broken ones.</summary>
internal static class DataFiles
{
    public static byte[] IdxImages(byte[] pixels, int count, int rows, int cols, int magic = 0x00000803)
    {
        var bytes = new byte[16 + pixels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(0), magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), cols);
        pixels.CopyTo(bytes, 16);
        return bytes;
    }

    public static byte[] IdxLabels(byte[] labels, int count, int magic = 0x00000801)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(0), magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    public static void Write(string path, byte[] bytes, bool gzip)
    {
        if (!gzip)
        {
            System.IO.File.WriteAllBytes(path, bytes);
            return;
        }
        using var fs = System.IO.File.Create(path);
        using var gz = new GZipStream(fs, CompressionLevel.Fastest);
        gz.Write(bytes);
    }

    /// <summary>Deterministic pixels 0..255 for n images.</summary>
    public static byte[] Pixels(int n)
    {
        var p = new byte[n];
        for (int i = 0; i < n; i++) p[i] = (byte)((i * 37 + 11) % 256);
        return p;
    }

    /// <summary>A CIFAR file: each record's label(s) then 3072 pixels whose first byte is the record index.</summary>
    public static byte[] Cifar(int records, bool cifar100, Func<int, int> label)
    {
        int labelBytes = cifar100 ? 2 : 1, size = labelBytes + 3072;
        var bytes = new byte[records * size];
        for (int r = 0; r < records; r++)
        {
            int o = r * size;
            if (cifar100)
            {
                bytes[o] = (byte)(label(r) % 20);
                bytes[o + 1] = (byte)label(r);
            }
            else
            {
                bytes[o] = (byte)label(r);
            }
            for (int p = 0; p < 3072; p++) bytes[o + labelBytes + p] = (byte)((r * 7 + p) % 256);
        }
        return bytes;
    }
}
