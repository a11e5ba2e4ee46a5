using System.Buffers.Binary;
using System.Text;
using Lopper.Io;
using Lopper.Tests.Data;

namespace Lopper.Tests.Reliability;

/// <summary>Issue 22, defect 6: the safetensors reader enforces the format's own rules, each bad header a LopperInputException.</summary>
public class SafeTensorsRulesTests
{
    private static byte[] File(string header, int dataBytes, int padTo = 0)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        return bytes;
    }

    private static string Load(byte[] bytes)
    {
        using var dir = new TempDir();
        System.IO.File.WriteAllBytes(dir.File("w.safetensors"), bytes);
        return Assert.Throws<LopperInputException>(() => SafeTensors.Load(dir.File("w.safetensors"))).Message;
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "contiguous")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8 + 1024, "unreferenced")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}}""", 16, "exactly two")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[]}}""", 8, "exactly two")]
    [InlineData("""{"a":{"dtype":7,"shape":[2],"data_offsets":[0,8]}}""", 8, "string 'dtype'")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 16, "")]
    [InlineData("""{"a":{"dtype":"F32","shape":[null],"data_offsets":[0,8]}}""", 8, "dimension 0")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8, "dimension 0")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2147483648],"data_offsets":[0,8]}}""", 8, "dimension 0")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4,65536,65536,65536],"data_offsets":[0,0]}}""", 0, "needs more than")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, "ascending")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,-8]}}""", 8, "non-negative")]
    [InlineData("""{"__metadata__":{"epoch":3},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, "metadata")]
    [InlineData(""" {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, "start with")]
    [InlineData("""[1,2]""", 0, "start with")]
    public void MalformedHeadersAreInputErrors(string header, int dataBytes, string message)
    {
        var e = Load(File(header, dataBytes));
        Assert.Contains(message, e);
        Assert.DoesNotContain('\n', e);
    }

    [Fact]
    public void DuplicateTensorNamesAreRefused() =>
        Assert.Contains("duplicate", Load(File("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 16)), StringComparison.OrdinalIgnoreCase);

    [Fact]
    public void InvalidUtf8IsRefusedNotReplaced()
    {
        var bytes = File("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8);
        bytes[8 + 2] = 0xFF; // inside the name "a"
        Assert.Contains("UTF-8", Load(bytes));
    }

    [Fact]
    public void HeaderAbove100MBIsRefusedBeforeReading()
    {
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 120_000_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains("limit", Load(bytes));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10_000_000);
    }

    [Fact]
    public void AWellFormedFileStillLoads()
    {
        using var dir = new TempDir();
        var t = new Lopper.Tensors.Tensor([2, 2], [1, 2, 3, 4]);
        var z = new Lopper.Tensors.Tensor([0, 3], []);
        SafeTensors.Save(dir.File("w.safetensors"), [KeyValuePair.Create("t", t), KeyValuePair.Create("z", z)], new Dictionary<string, string> { ["k"] = "v" });
        var (tensors, meta) = SafeTensors.Load(dir.File("w.safetensors"));
        Assert.Equal(t.Data, tensors["t"].Data);
        Assert.Equal([0, 3], tensors["z"].Shape);
        Assert.Equal("v", meta["k"]);
    }
}
