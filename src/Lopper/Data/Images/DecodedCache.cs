using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Lopper.Io;

namespace Lopper.Data.Images;

/// <summary>
/// Decoded images kept in one uint8 file, so a folder of PNG/JPEG files is decoded once, not every epoch or run.
/// The file is named by a SHA-256 key over the split's file list (relative path, byte size, modification time)
/// and the resize/crop settings, so adding, removing or editing an image, or changing a setting, misses the old
/// file and decodes again. Read back memory-mapped.
/// </summary>
/// <remarks>
/// Layout, little-endian: "LOPRU8C1", then int32 count, channels, height, width, class count; int32 labels;
/// zero padding to a multiple of 64 bytes; the pixels, NCHW. Written to a temporary file and renamed
/// (<see cref="AtomicFile"/>), so a crash never leaves a half file under the final name.
/// </remarks>
public static class DecodedCache
{
    private static readonly byte[] Magic = "LOPRU8C1"u8.ToArray();
    private const int HeaderInts = 5;

    /// <summary>The cache key of a file list plus settings: hex SHA-256, first 24 digits.</summary>
    public static string Key(string root, IReadOnlyList<string> files, string settings)
    {
        var sb = new StringBuilder("lopper-decoded-v1\n").Append(settings).Append('\n');
        foreach (var f in files)
        {
            var info = new FileInfo(f);
            sb.Append(Path.GetRelativePath(root, f)).Append('\t').Append(info.Length).Append('\t')
              .Append(info.LastWriteTimeUtc.Ticks).Append('\n');
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..24];
    }

    /// <summary>Writes the decoded split (pixels NCHW, labels) to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, byte[] pixels, int[] labels, int channels, int height, int width, int classCount)
    {
        AtomicFile.Write(path, s =>
        {
            var head = new byte[HeaderSize(labels.Length)];
            Magic.CopyTo(head, 0);
            int[] ints = [labels.Length, channels, height, width, classCount];
            for (int i = 0; i < ints.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(head.AsSpan(8 + 4 * i), ints[i]);
            for (int i = 0; i < labels.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(head.AsSpan(8 + 4 * HeaderInts + 4 * i), labels[i]);
            s.Write(head);
            s.Write(pixels);
        });
    }

    /// <summary>
    /// Opens a cache file as a dataset whose pixels stay memory-mapped; null when the file is absent or does not
    /// hold what the header promises (it is then rebuilt).
    /// </summary>
    public static Dataset? TryOpen(string path, string name, string split, IReadOnlyList<string> classNames)
    {
        if (!File.Exists(path)) return null;
        long length = new FileInfo(path).Length;
        var ints = new int[HeaderInts];
        int[] labels;
        using (var fs = File.OpenRead(path))
        {
            var head = new byte[8 + 4 * HeaderInts];
            if (fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) != head.Length || !head.AsSpan(0, 8).SequenceEqual(Magic)) return null;
            for (int i = 0; i < HeaderInts; i++) ints[i] = BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(8 + 4 * i));
            if (ints[0] < 0 || ints[1] < 1 || ints[2] < 1 || ints[3] < 1 || ints[4] != classNames.Count) return null;
            long pixelBytes = (long)ints[0] * ints[1] * ints[2] * ints[3];
            if (pixelBytes > int.MaxValue || length != HeaderSize(ints[0]) + pixelBytes) return null;
            var lab = new byte[4 * ints[0]];
            if (fs.ReadAtLeast(lab, lab.Length, throwOnEndOfStream: false) != lab.Length) return null;
            labels = new int[ints[0]];
            for (int i = 0; i < labels.Length; i++)
            {
                labels[i] = BinaryPrimitives.ReadInt32LittleEndian(lab.AsSpan(4 * i));
                if ((uint)labels[i] >= (uint)ints[4]) return null;
            }
        }
        int bytes = ints[0] * ints[1] * ints[2] * ints[3];
        ReadOnlyMemory<byte> pixels = bytes == 0 ? ReadOnlyMemory<byte>.Empty : new MappedMemory(path, HeaderSize(ints[0]), bytes).Memory;
        return new Dataset(name, split, pixels, labels, ints[1], ints[2], ints[3], ints[4], classNames);
    }

    private static int HeaderSize(int count) => (8 + 4 * HeaderInts + 4 * count + 63) / 64 * 64;
}
