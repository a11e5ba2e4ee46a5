using System.Buffers.Binary;
using System.IO.Compression;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Tests.Data;

namespace Lopper.Tests.Reliability;

/// <summary>Issue 22, defects 7 and 8: model.json and IDX are validated before anything large is allocated; wrong JSON types are input errors.</summary>
public class ReaderLimitsTests
{
    private const string Head = """{"format":"lopper.model/1","name":"m","nodes":[{"name":"input","op":"input","attrs":{"shape":[1,4,4]}},""";

    [Theory]
    [InlineData("""{"format":"lopper.model/1","name":7,"nodes":[]}""", "'name' must be a string")]
    [InlineData(Head + """{"name":"f","op":"flatten","inputs":[3]},{"name":"fc","op":"linear","inputs":["f"],"attrs":{"in_features":16,"out_features":2}}]}""", "inputs[0]")]
    [InlineData(Head + """{"name":5,"op":"flatten","inputs":["input"]}]}""", "'name' must be a string")]
    [InlineData(Head + """{"name":"f","op":["flatten"],"inputs":["input"]}]}""", "'op' must be a string")]
    [InlineData(Head + """{"name":"f","op":"flatten","inputs":"input"}]}""", "'inputs' must be an array")]
    [InlineData(Head + """{"name":"f","op":"flatten","inputs":["input"],"attrs":[1]}]}""", "'attrs' must be an object")]
    [InlineData(Head + """{"name":"x2","op":"input","attrs":{"shape":[1,4,4]}},{"name":"f","op":"flatten","inputs":["x2"]}]}""", "second input")]
    [InlineData(Head + """{"name":"f","op":"flatten","inputs":["g"]},{"name":"g","op":"flatten","inputs":["f"]}]}""", "not an earlier node")]
    [InlineData("""{"format":"lopper.model/1","name":"m","nodes":[],"name":"n"}""", "")]
    public void MalformedGraphsAreInputErrors(string json, string message)
    {
        var e = Assert.Throws<LopperInputException>(() => ModelJson.Parse(json, "model.json"));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void AHugeLayerIsRefusedBeforeAnyParameterExists()
    {
        // 1,000,000 outputs from 1,000,000 inputs (each within an attribute's own range): 4 TB of weights asked
        // for by a 300-byte file.
        string json = """{"format":"lopper.model/1","name":"m","nodes":[{"name":"input","op":"input","attrs":{"shape":[1000000,1,1]}},{"name":"f","op":"flatten","inputs":["input"]},{"name":"fc","op":"linear","inputs":["f"],"attrs":{"in_features":1000000,"out_features":1000000}}]}""";
        var graph = ModelJson.Parse(json);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<LopperInputException>(() => new Model(graph));
        Assert.Contains("memory budget", e.Message);
        Assert.Contains("fc", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10_000_000);
        Assert.Throws<LopperInputException>(() => Model.CheckBudget(graph, 1000));
        // A single tensor is also held to 2^31 - 1 elements (one array), whatever the budget.
        Assert.Throws<LopperInputException>(() => Model.CheckBudget(graph, long.MaxValue));
        var smaller = ModelJson.Parse(json.Replace("[1000000,1,1]", "[84,1,1]").Replace("\"in_features\":1000000", "\"in_features\":84"));
        Assert.Equal(84L * 1_000_000 * 4 + 1_000_000 * 4, Model.CheckBudget(smaller, long.MaxValue));
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(raw);
        return ms.ToArray();
    }

    [Fact]
    public void ATinyGzipClaimingTwoGigabytesAllocatesOnlyWhatItHolds()
    {
        using var dir = new TempDir();
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, IdxReader.LabelsMagic);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), int.MaxValue);
        System.IO.File.WriteAllBytes(dir.File("l.gz"), Gzip([.. header, 1, 2, 3]));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<LopperInputException>(() => IdxReader.ReadLabels(dir.File("l.gz"), 10));
        Assert.Contains("truncated", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 20_000_000);

        var img = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(img, IdxReader.ImagesMagic);
        BinaryPrimitives.WriteInt32BigEndian(img.AsSpan(4), int.MaxValue / 784);
        BinaryPrimitives.WriteInt32BigEndian(img.AsSpan(8), 28);
        BinaryPrimitives.WriteInt32BigEndian(img.AsSpan(12), 28);
        System.IO.File.WriteAllBytes(dir.File("i.gz"), Gzip(img));
        before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<LopperInputException>(() => IdxReader.ReadImages(dir.File("i.gz")));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 20_000_000);
    }

    [Fact]
    public void GzipTrailerIsChecked()
    {
        using var dir = new TempDir();
        var good = Gzip(DataFiles.IdxLabels([1, 2, 3, 4], 4));
        System.IO.File.WriteAllBytes(dir.File("ok.gz"), good);
        Assert.Equal([1, 2, 3, 4], IdxReader.ReadLabels(dir.File("ok.gz"), 10));
        System.IO.File.WriteAllBytes(dir.File("notrailer.gz"), good[..^8]);
        Assert.Contains("gzip", Assert.Throws<LopperInputException>(() => IdxReader.ReadLabels(dir.File("notrailer.gz"), 10)).Message);
        System.IO.File.WriteAllBytes(dir.File("garbage.gz"), [.. good, .. new byte[100]]);
        Assert.Throws<LopperInputException>(() => IdxReader.ReadLabels(dir.File("garbage.gz"), 10));
        var badCrc = (byte[])good.Clone();
        badCrc[^5] ^= 1;
        System.IO.File.WriteAllBytes(dir.File("crc.gz"), badCrc);
        Assert.Throws<LopperInputException>(() => IdxReader.ReadLabels(dir.File("crc.gz"), 10));
    }

    [Fact]
    public void Crc32MatchesTheStandardCheckValue() =>
        Assert.Equal(0xCBF43926u, Crc32.Append(0, "123456789"u8));
}
