using System.Text.Json.Nodes;
using Lopper.Io;
using Lopper.Onnx;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;
using static Lopper.Tests.Onnx.OnnxFixtures;

namespace Lopper.Tests.Onnx;

/// <summary>`lopper import`, data-free `lopper prune`, `lopper export` and `lopper latency --runtime ort` end to end.</summary>
[Collection(ConsoleCollection.Name)]
public class OnnxCliTests
{
    [Fact]
    public void ImportedModelPrunesWithoutDataAndExportsToOnnxRuntime()
    {
        using var dir = new TempDir();
        string imported = dir.File("imported"), pruned = dir.File("pruned"), onnx = dir.File("pruned.onnx");
        var (code, _, err) = CliHarness.Run("import", File("resnet_small"), "--out", imported, "--mean", "0.49,0.48,0.45", "--std", "0.25,0.24,0.26");
        Assert.True(code == 0, err);
        var pre = JsonNode.Parse(System.IO.File.ReadAllText(Path.Combine(imported, ModelFolders.PreprocessingFile)))!;
        Assert.Equal(0.48, (double)pre["mean"]![1]!, 5);
        Assert.Equal(3, pre["input_shape"]!.AsArray().Count);

        (code, var stdout, err) = CliHarness.Run("prune", "l1", "--from", imported, "--target-macs", "0.5", "--finetune-epochs", "0", "--out", pruned, "--latency-batch", "1", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("no dataset", err);
        Assert.Contains("not measured (no data)", stdout);
        Assert.Contains("no fine-tuning", stdout);
        Assert.DoesNotContain("(fine-tuned", stdout);
        var run = JsonNode.Parse(System.IO.File.ReadAllText(Path.Combine(pruned, "run.json")))!;
        Assert.Null(run["accuracy_before"]);
        Assert.Null(run["accuracy_finetuned"]);
        Assert.True((long)run["macs_after"]! <= 0.55 * (long)run["macs_before"]!);

        (code, stdout, err) = CliHarness.Run("export", pruned, "--onnx", onnx);
        Assert.True(code == 0, err);
        Assert.Contains("no accuracy recorded", stdout);
        var meta = OnnxFile.Load(onnx).MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("l1", meta["lopper.method"]);
        Assert.False(meta.ContainsKey("lopper.accuracy"));
        var model = ModelStore.Load(pruned);
        var x = Input("resnet_small", [3, 32, 32]);
        using var ort = new Lopper.Onnx.Runtime.OrtModel(System.IO.File.ReadAllBytes(onnx), 1);
        Assert.True(MaxRelativeError(Run(model, x), ort.Run(x)) <= 1e-4);

        (code, stdout, err) = CliHarness.Run("latency", "--from", pruned, "--runtime", "ort", "--batch", "2", "--repeats", "2", "--threads", "1", "--json");
        Assert.True(code == 0, err);
        var lat = JsonNode.Parse(stdout)!;
        Assert.Equal("ort", (string)lat["runtime"]!);
        Assert.NotNull(lat["results"]![0]!["dense"]);
    }

    [Fact]
    public void OnnxCheckComparesAFolderWithAFileInOnnxRuntime()
    {
        using var dir = new TempDir();
        string imported = dir.File("imported");
        var (code, _, err) = CliHarness.Run("import", File("mobilenet_v2_x035"), "--out", imported);
        Assert.True(code == 0, err);
        (code, var stdout, err) = CliHarness.Run("onnx-check", "--from", imported, "--onnx", File("mobilenet_v2_x035"), "--threads", "1", "--json");
        Assert.True(code == 0, err);
        var r = JsonNode.Parse(stdout)!;
        Assert.True((bool)r["match"]!);
        Assert.True((double)r["max_relative_error"]! <= 1e-4);
        // The same file with the classifier's weight doubled: the outputs differ and the check says so (exit 1).
        var m = OnnxFile.Load(File("mobilenet_v2_x035"));
        var w = m.Graph.Initializer.First(t => t.Name == "classifier.1.weight");
        var bytes = w.RawData.ToByteArray();
        for (int i = 0; i < bytes.Length; i += 4) System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i), 2f * System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i)));
        w.RawData = Google.Protobuf.ByteString.CopyFrom(bytes);
        OnnxFile.Save(m, dir.File("changed.onnx"));
        (code, stdout, _) = CliHarness.Run("onnx-check", "--from", imported, "--onnx", dir.File("changed.onnx"), "--threads", "1");
        Assert.Equal(1, code);
        Assert.Contains("MISMATCH", stdout);
        // A file for another input shape is refused up front with one line.
        (code, _, err) = CliHarness.Run("onnx-check", "--from", imported, "--onnx", File("vgg_small"), "--threads", "1");
        Assert.Equal(2, code);
        Assert.Contains("the model folder takes [N,3,32,32]", err);
        Assert.DoesNotContain('\n', err.Trim());
    }

    [Fact]
    public void DataDrivenMethodsAndFineTuningAskForData()
    {
        using var dir = new TempDir();
        string imported = dir.File("imported");
        Assert.Equal(0, CliHarness.Run("import", File("vgg_small"), "--out", imported).Code);
        var (code, _, err) = CliHarness.Run("prune", "bn-slimming", "--from", imported, "--target-macs", "0.5", "--out", dir.File("p"));
        Assert.Equal(2, code);
        Assert.Contains("needs data", err);
        Assert.Contains("--dataset", err);
        (code, _, err) = CliHarness.Run("prune", "l1", "--from", imported, "--target-macs", "0.5", "--finetune-epochs", "1", "--out", dir.File("p"));
        Assert.Equal(2, code);
        Assert.Contains("fine-tuning needs data", err);
    }

    [Fact]
    public void ImportFlagsAreChecked()
    {
        using var dir = new TempDir();
        var (code, _, err) = CliHarness.Run("import", File("vgg_small"), "--out", dir.File("o"), "--mean", "0.5");
        Assert.Equal(2, code);
        Assert.Contains("--std", err);
        (code, _, err) = CliHarness.Run("import", File("vgg_small"), "--out", dir.File("o"), "--mean", "0.5,0.5", "--std", "1,1");
        Assert.Equal(2, code);
        Assert.Contains("--mean has 2 values", err);
        (code, _, err) = CliHarness.Run("import", dir.File("missing.onnx"), "--out", dir.File("o"));
        Assert.Equal(2, code);
        Assert.Contains("file not found", err);
    }

    [Fact]
    public void EvalInOnnxRuntimeGivesLoppersAccuracy()
    {
        using var dir = new TempDir();
        string data = CliHarness.TinyData(dir, 40, 60), imported = dir.File("imported");
        Assert.Equal(0, CliHarness.Run("import", File("vgg_small"), "--out", imported).Code);
        var (code, lopperOut, err) = CliHarness.Run("eval", "--from", imported, "--dataset", "fashion-mnist", "--data", data, "--json", "--threads", "1");
        Assert.True(code == 0, err);
        (code, var ortOut, err) = CliHarness.Run("eval", "--from", imported, "--dataset", "fashion-mnist", "--data", data, "--runtime", "ort", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        var (l, o) = (JsonNode.Parse(lopperOut)!, JsonNode.Parse(ortOut)!);
        Assert.Equal("ort", (string)o["runtime"]!);
        Assert.Equal((double)l["test_accuracy"]!, (double)o["test_accuracy"]!);
        Assert.Equal((double)l["test_loss"]!, (double)o["test_loss"]!, 4);
    }
}
