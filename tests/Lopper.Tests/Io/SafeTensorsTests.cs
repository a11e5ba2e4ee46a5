using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Tensors;
using Lopper.Tests.Data;
using Lopper.Tests.Training;

namespace Lopper.Tests.Io;

public class SafeTensorsTests
{
    [Fact]
    public void FileHasTheStandardLayout()
    {
        using var dir = new TempDir();
        var a = new Tensor([2, 3], [1, 2, 3, 4, 5, 6]);
        var b = new Tensor([1], [-0.5f]);
        SafeTensors.Save(dir.File("w.safetensors"), [KeyValuePair.Create("a", a), KeyValuePair.Create("b", b)], new Dictionary<string, string> { ["epoch"] = "3" });
        var bytes = File.ReadAllBytes(dir.File("w.safetensors"));
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, (8 + n) % 8);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n))!.AsObject();
        Assert.Equal("F32", (string)header["a"]!["dtype"]!);
        Assert.Equal([2, 3], header["a"]!["shape"]!.AsArray().Select(v => (int)v!));
        Assert.Equal([0L, 24L], header["a"]!["data_offsets"]!.AsArray().Select(v => (long)v!));
        Assert.Equal([24L, 28L], header["b"]!["data_offsets"]!.AsArray().Select(v => (long)v!));
        Assert.Equal("3", (string)header["__metadata__"]!["epoch"]!);
        int data = 8 + (int)n;
        Assert.Equal(8 + (int)n + 28, bytes.Length);
        Assert.Equal(4f, BitConverter.ToSingle(bytes, data + 12));
        Assert.Equal(-0.5f, BitConverter.ToSingle(bytes, data + 24));
        var (loaded, meta) = SafeTensors.Load(dir.File("w.safetensors"));
        Assert.Equal(a.Data, loaded["a"].Data);
        Assert.Equal("3", meta["epoch"]);
    }

    [Fact]
    public void TruncatedFileIsRejectedNamingIt()
    {
        using var dir = new TempDir();
        SafeTensors.Save(dir.File("w.safetensors"), [KeyValuePair.Create("a", new Tensor([100]))]);
        var bytes = File.ReadAllBytes(dir.File("w.safetensors"));
        File.WriteAllBytes(dir.File("w.safetensors"), bytes[..^10]);
        var e = Assert.Throws<LopperInputException>(() => SafeTensors.Load(dir.File("w.safetensors")));
        Assert.Contains("w.safetensors", e.Message);
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void ModelRoundTripsThroughAFolder()
    {
        using var dir = new TempDir();
        var model = new Model(TinyTask.Graph(), 5);
        model.Find("bn1.running_mean")!.Value.Data[2] = 0.25f;
        ModelStore.Save(model, dir.Path);
        var back = ModelStore.Load(dir.Path);
        Assert.Equal(ModelJson.Serialize(model.Graph), ModelJson.Serialize(back.Graph));
        Assert.Equal(TinyTask.Weights(model), TinyTask.Weights(back));
    }

    [Fact]
    public void MisShapedTensorIsNamed()
    {
        using var dir = new TempDir();
        var model = new Model(TinyTask.Graph(), 5);
        ModelStore.Save(model, dir.Path);
        var tensors = model.Parameters.ToDictionary(p => p.Name, p => p.Value);
        tensors["fc.bias"] = new Tensor([4]);
        SafeTensors.Save(dir.File(ModelStore.WeightsFile), tensors);
        var e = Assert.Throws<LopperInputException>(() => ModelStore.Load(dir.Path));
        Assert.Contains("fc.bias", e.Message);
        Assert.Contains("[4]", e.Message);
    }
}
