using System.IO.Compression;
using System.Runtime.InteropServices;
using Lopper.Data;
using Lopper.Data.Npy;

namespace Lopper.Tests.Data;

public class NpyTests
{
    internal static byte[] U8(int[] shape, byte[] data) => NpyFormat.Write("|u1", shape, data);
    internal static byte[] I64(long[] v) => NpyFormat.Write("<i8", [v.Length], MemoryMarshal.AsBytes(v.AsSpan()));
    internal static byte[] F32(int[] shape, float[] v) => NpyFormat.Write("<f4", shape, MemoryMarshal.AsBytes(v.AsSpan()));

    [Fact]
    public void HeaderParserAcceptsNumpyFormsAndRejectsTheRest()
    {
        var (d, f, s) = NpyFormat.ParseHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 28, 28), }", "x");
        Assert.Equal(("<f4", false), (d, f));
        Assert.Equal([3, 28, 28], s);
        Assert.Equal([5], NpyFormat.ParseHeader("{'shape': (5,), 'descr': '|u1', 'fortran_order': True}", "x").Shape);
        Assert.Empty(NpyFormat.ParseHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (), }", "x").Shape);
        foreach (var bad in new[] { "{'descr': '<f4', 'fortran_order': False}", "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}",
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk" })
            Assert.Throws<LopperInputException>(() => NpyFormat.ParseHeader(bad, "x"));
    }

    [Fact]
    public void ReadsNhwUint8AndNhwcFloat32FromFolderAndNpz()
    {
        using var dir = new TempDir();
        var px = Enumerable.Range(0, 4 * 3 * 2).Select(i => (byte)(i * 10)).ToArray();
        File.WriteAllBytes(dir.File("x_train.npy"), U8([4, 3, 2], px));
        File.WriteAllBytes(dir.File("y_train.npy"), I64([0, 1, 2, 1]));
        File.WriteAllBytes(dir.File("x_test.npy"), U8([1, 3, 2], px[..6]));
        File.WriteAllBytes(dir.File("y_test.npy"), NpyFormat.Write("<i4", [1], MemoryMarshal.AsBytes(new[] { 2 }.AsSpan())));
        var (train, test) = NpyDataset.Load(dir.Path, new DataOptions());
        Assert.Equal((4, 1, 3, 2, 3), (train.Count, train.Channels, train.Height, train.Width, train.ClassCount));
        Assert.Equal(px, train.Pixels.ToArray());
        Assert.Equal([0, 1, 2, 1], train.Labels.ToArray());
        Assert.Equal([2], test.Labels.ToArray());

        // NHWC float32 in a compressed .npz: channels move first, 0..1 becomes 0..255.
        var f = new float[2 * 2 * 2 * 3];
        for (int i = 0; i < f.Length; i++) f[i] = i / (float)(f.Length - 1);
        var npz = dir.File("data.npz");
        using (var zip = ZipFile.Open(npz, ZipArchiveMode.Create))
        {
            foreach (var (name, bytes) in new[] { ("x_train", F32([2, 2, 2, 3], f)), ("y_train", U8([2], [1, 0])), ("x_val", F32([2, 2, 2, 3], f)), ("y_val", U8([2], [0, 0])) })
                using (var s = zip.CreateEntry(name + ".npy", CompressionLevel.Optimal).Open()) s.Write(bytes);
        }
        var (t2, _) = NpyDataset.Load(npz, new DataOptions());
        Assert.Equal((3, 2, 2), (t2.Channels, t2.Height, t2.Width));
        // image 1, channel 2, pixel (1, 0): source index ((1*4 + 2) * 3 + 2)
        Assert.Equal((byte)MathF.Round(f[(1 * 4 + 2) * 3 + 2] * 255), t2.Image(1)[2 * 4 + 2]);
    }

    [Fact]
    public void BadArraysAreNamed()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("x_train.npy"), U8([2, 2, 2], new byte[8]));
        File.WriteAllBytes(dir.File("y_train.npy"), I64([0, 1]));
        File.WriteAllBytes(dir.File("x_val.npy"), U8([2, 2, 2], new byte[8]));
        File.WriteAllBytes(dir.File("y_val.npy"), I64([0, 5]));
        var ex = Assert.Throws<LopperInputException>(() => NpyDataset.Load(dir.Path, new DataOptions()));
        Assert.Contains("y_val.npy: label 5 at index 1 is out of range for 2 classes", ex.Message);
        File.WriteAllBytes(dir.File("y_val.npy"), I64([0, -1]));
        ex = Assert.Throws<LopperInputException>(() => NpyDataset.Load(dir.Path, new DataOptions()));
        Assert.Contains("y_val.npy: label -1 at index 1 is out of range", ex.Message);
        File.WriteAllBytes(dir.File("y_val.npy"), I64([0, 1]));
        var full = U8([2, 2, 2], new byte[8]);
        File.WriteAllBytes(dir.File("x_val.npy"), full[..^3]);
        ex = Assert.Throws<LopperInputException>(() => NpyDataset.Load(dir.Path, new DataOptions()));
        Assert.Contains("x_val.npy: shape (2, 2, 2) of |u1 needs 8 data bytes, the file has 5 (truncated)", ex.Message);
        File.WriteAllBytes(dir.File("x_val.npy"), U8([3, 2, 2], new byte[12]));
        ex = Assert.Throws<LopperInputException>(() => NpyDataset.Load(dir.Path, new DataOptions()));
        Assert.Contains("x_val.npy: 3 images but", ex.Message);
        File.WriteAllBytes(dir.File("x_val.npy"), F32([2, 2, 2], [0, 0, 0, 0, 0, 0, 0, 2f]));
        ex = Assert.Throws<LopperInputException>(() => NpyDataset.Load(dir.Path, new DataOptions()));
        Assert.Contains("float32 pixel 2 of image 1 is outside [0, 1]", ex.Message);
        File.WriteAllBytes(dir.File("x_train.npy"), U8([0, 2, 2], []));
        File.WriteAllBytes(dir.File("y_train.npy"), I64([]));
        ex = Assert.Throws<LopperInputException>(() => NpyDataset.Load(dir.Path, new DataOptions()));
        Assert.Contains("the training split is empty", ex.Message);
    }
}
