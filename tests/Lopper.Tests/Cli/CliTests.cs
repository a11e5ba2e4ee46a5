using Lopper.Io;
using System.Text.Json.Nodes;
using Lopper.Tests.Data;

using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Cli;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "console";
}

/// <summary>The lopper command in-process: exit codes, one-line errors, and a tiny end-to-end run.</summary>
[Collection(ConsoleCollection.Name)]
public class CliTests
{
    [Fact]
    public void InspectReportsKnownCounts()
    {
        var (code, output, _) = Run("inspect", "--model", "resnet56", "--input", "3x32x32", "--classes", "10", "--json");
        Assert.Equal(0, code);
        var o = JsonNode.Parse(output)!;
        Assert.Equal(855770L, (long)o["params"]!);
        Assert.Equal(125747840L, (long)o["macs"]!);
    }

    [Theory]
    [InlineData("1", false)]
    [InlineData("2", false)]
    [InlineData("1", true)]
    [InlineData("2", true)]
    public void BenchSparseConvColumnsAgreesWithTheDenseKernels(string stride, bool epilogue)
    {
        if (!Lopper.Tensors.Kernels.CompactTileConv.Supported) return;   // the tap kernels need AVX-512
        string[] args = ["bench", "sparse-conv", "--pattern", "columns", "--in", "5", "--out", "11", "--hw", "9",
            "--sparsity", "0,0.6", "--batch", "3", "--stride", stride, "--threads", "1", "--json"];
        var (code, output, err) = Run(epilogue ? [.. args, "--epilogue"] : args);
        Assert.True(code == 0, err);
        var o = JsonNode.Parse(output)!;
        Assert.Equal("columns", (string)o["pattern"]!);
        Assert.Equal(epilogue, (bool)o["epilogue"]!);
        var levels = o["levels"]!.AsArray();
        Assert.Equal(45, (int)levels[0]!["columns_kept"]!);
        Assert.InRange((int)levels[1]!["columns_kept"]!, 1, 44);
        // Every kernel's output (tap list, position tiles, direct tiles over the kept columns) against the dense one.
        foreach (var level in levels) Assert.InRange((double)level!["max_abs_diff"]!, 0, 1e-4);
        Assert.Equal(stride == "1", levels[1]!["direct_columns_ms"] is not null);
    }

    [Fact]
    public void BenchProfileWithOrtListsBothRuntimesLayers()
    {
        var (code, output, err) = Run("bench", "--model", "lenet5", "--batch", "8", "--steps", "2", "--threads", "1", "--profile", "--ort", "--json");
        Assert.True(code == 0, err);
        var o = JsonNode.Parse(output)!;
        var lopperLayers = o["profile_ms_per_step"]!.AsArray().Where(r => r!["node"] is not null).Select(r => (string)r!["node"]!).ToList();
        Assert.Contains("conv1", lopperLayers);
        // Each convolution names the kernel its inference ran (LeNet's second one, unpadded: the direct tiles where
        // the CPU has AVX-512, else the GEMM); the linear layers have one kernel and name none.
        var rows = o["profile_ms_per_step"]!.AsArray().Where(r => r!["node"] is not null).ToDictionary(r => (string)r!["node"]!);
        Assert.Contains((string)rows["conv2"]!["infer_kernel"]!, new[] { "direct tiles without padding", "im2col + GEMM" });
        Assert.Null(rows["fc1"]!["infer_kernel"]);
        var ortNodes = o["ort_profile_ms_per_step"]!.AsArray();
        Assert.Contains(ortNodes, r => (string)r!["op"]! == "Conv" && (double)r["infer_forward"]! > 0);
        Assert.Contains(ortNodes, r => (string)r!["op"]! == "Gemm");
    }

    [Theory]
    [InlineData("unknown command 'frobnicate'", "frobnicate")]
    [InlineData("unknown flag --bogus", "inspect", "--model", "lenet5", "--bogus", "1")]
    [InlineData("unknown model 'nosuch'", "inspect", "--model", "nosuch")]
    [InlineData("--input must look like CxHxW", "inspect", "--model", "lenet5", "--input", "28x28")]
    [InlineData("--epochs must be at least 1", "train", "--model", "lenet5", "--epochs", "0")]
    [InlineData("/nonexistent/lopper-data", "train", "--model", "lenet5", "--data", "/nonexistent/lopper-data")]
    [InlineData("unknown dataset", "train", "--model", "lenet5", "--dataset", "imagenet-21k")]
    [InlineData("unknown pruning method 'snip'", "prune", "snip", "--from", "x", "--out", "y")]
    public void BadInputExitsWithCode2AndOneLine(string expected, params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void TrainPruneEvalResumeEndToEnd()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 200, 50);
        var run = dir.File("run");
        var (code, output, err) = Run("train", "--model", "lenet5", "--epochs", "1", "--data", data, "--out", run, "--json", "--threads", "1");
        Assert.True(code == 0, err);
        var trained = JsonNode.Parse(output)!;
        Assert.InRange((double)trained["test_accuracy"]!, 0.0, 1.0);
        Assert.True((double)trained["seconds"]! > 0);
        var runJson = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "run.json")))!;
        foreach (var field in new[] { "command", "seed", "lopper_version", "dotnet_version", "threads", "cpu", "machine" })
            Assert.NotNull(runJson[field]);
        // The commit the build came from (null for a build outside a git checkout), the one `lopper --version` prints.
        Assert.True(runJson.AsObject().ContainsKey("lopper_commit"));
        Assert.Equal(Lopper.Io.RunInfo.Commit, (string?)runJson["lopper_commit"]);

        (code, output, err) = Run("train", "--resume", run, "--epochs", "2", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Equal(2, (int)JsonNode.Parse(output)!["epochs"]!);

        var pruned = dir.File("pruned");
        (code, output, err) = Run("prune", "l1", "--from", run, "--out", pruned, "--target-macs", "0.5", "--finetune-epochs", "1", "--latency-batch", "8", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        var p = JsonNode.Parse(output)!;
        foreach (var field in new[] { "method", "accuracy_before", "accuracy_pruned", "accuracy_finetuned", "params_before", "params_after", "macs_before", "macs_after", "latency_ms_before", "latency_ms_after", "seconds" })
            Assert.NotNull(p[field]);
        Assert.True((long)p["macs_after"]! <= 0.5 * (long)p["macs_before"]!);

        // A fresh load of the pruned folder gives the accuracy the prune run recorded.
        (code, output, err) = Run("eval", "--from", pruned, "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Equal((double)p["accuracy_finetuned"]!, (double)JsonNode.Parse(output)!["test_accuracy"]!, 9);

        (code, output, err) = Run("latency", "--from", pruned, "--batch", "4", "--repeats", "2", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.NotNull(JsonNode.Parse(output)!["results"]![0]!["dense"]);

        // --layers times every layer beside the dense model's: the layers' multiply-adds add up to the run's MACs.
        (code, output, err) = Run("latency", "--from", pruned, "--batch", "4", "--repeats", "2", "--layers", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        var layers = JsonNode.Parse(output)!["results"]![0]!["layers"]!.AsArray();
        Assert.Equal(["conv1", "conv2", "fc1", "fc2", "fc3", "(all these layers)"], layers.Select(l => (string)l!["layer"]!));
        Assert.All(layers, l => Assert.True((double)l!["ms"]! > 0 && (double)l["dense_ms"]! > 0));
        Assert.Equal((double)(long)p["macs_after"]! / (long)p["macs_before"]!, (double)layers[^1]!["macs_ratio"]!, 0.0015);
        Assert.Contains(layers, l => (double)l!["macs_ratio"]! < 1);

        // The trained folder names no source; --dense names the model to time it against.
        (code, output, err) = Run("latency", "--from", run, "--batch", "4", "--repeats", "2", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Null(JsonNode.Parse(output)!["results"]![0]!["dense"]);
        (code, output, err) = Run("latency", "--from", run, "--dense", pruned, "--batch", "4", "--repeats", "2", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Equal(Path.GetFullPath(pruned), (string)JsonNode.Parse(output)!["dense_from"]!);
        Assert.NotNull(JsonNode.Parse(output)!["results"]![0]!["dense"]);
        (code, _, err) = Run("latency", "--from", run, "--dense", dir.File("nothing-here"), "--batch", "4", "--json", "--threads", "1");
        Assert.Equal(2, code);
        Assert.Contains("--dense", err);
    }

    [Fact]
    public void TrainLimitTrainsOnThePrefixAndTravelsToFinetuning()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 100, 20);
        var run = dir.File("run");
        var (code, _, err) = Run("train", "--model", "lenet5", "--epochs", "1", "--train-limit", "40", "--batch-size", "16", "--data", data, "--out", run, "--json", "--threads", "1");
        Assert.True(code == 0, err);
        var runJson = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "run.json")))!;
        Assert.Equal(40, (int)runJson["config"]!["train_limit"]!);
        Assert.Equal(40, (int)runJson["history"]![0]!["train_images"]!);

        // Fine-tuning a pruned copy inherits the limit from the source's config.
        var pruned = dir.File("pruned");
        (code, _, err) = Run("prune", "l1", "--from", run, "--out", pruned, "--target-macs", "0.7", "--finetune-epochs", "1", "--latency-batch", "4", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        var prunedJson = JsonNode.Parse(File.ReadAllText(Path.Combine(pruned, "run.json")))!;
        Assert.Equal(40, (int)prunedJson["history"]![0]!["train_images"]!);

        // ... unless prune names its own.
        var pruned2 = dir.File("pruned2");
        (code, _, err) = Run("prune", "l1", "--from", run, "--out", pruned2, "--target-macs", "0.7", "--finetune-epochs", "1", "--train-limit", "24", "--latency-batch", "4", "--json", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Equal(24, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(pruned2, "run.json")))!["history"]![0]!["train_images"]!);
    }

    [Fact]
    public void PruneCanRecalibrateBatchNorm()
    {
        using var dir = new TempDir();
        var data = TinyData(dir, 64, 16);
        var run = TrainTiny(dir, "resnet20", data);
        string Prune(string name, params string[] extra)
        {
            var o = dir.File(name);
            var (code, _, err) = Run(["prune", "l1", "--from", run, "--out", o, "--target-macs", "0.6", "--batch-size", "16", "--latency-batch", "4", "--json", "--threads", "1", .. extra]);
            Assert.True(code == 0, err);
            return o;
        }
        var plain = Prune("plain", "--bn-recalibrate", "0");
        var recal = Prune("recal", "--bn-recalibrate", "2");
        var byDefault = Prune("default");
        Assert.Equal(0, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(plain, "run.json")))!["bn_recalibrate_batches"]!);
        Assert.Equal(2, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(recal, "run.json")))!["bn_recalibrate_batches"]!);
        // On by default: 50 batches, or one epoch when the training set is smaller (64 images / 16 = 4 batches).
        Assert.Equal(4, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(byDefault, "run.json")))!["bn_recalibrate_batches"]!);
        // Same pruning, new statistics: the weights agree, the running means do not.
        var a = ModelStore.Load(plain);
        var b = ModelStore.Load(recal);
        foreach (var p in a.Parameters.Where(p => p.Trainable)) Assert.Equal(p.Value.Data, b.Find(p.Name)!.Value.Data);
        var means = a.Parameters.Where(p => p.Name.EndsWith(".running_mean", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(means);
        Assert.Contains(means, p => !p.Value.Data.AsSpan().SequenceEqual(b.Find(p.Name)!.Value.Data));
    }

    [Fact]
    public void CorruptDatasetIsAOneLineError()
    {
        using var dir = new TempDir();
        WriteTinyFashion(dir.Path, 20, 10);
        var bytes = DataFiles.IdxImages(new byte[10 * 784], 10, 28, 28);
        DataFiles.Write(dir.File("t10k-images-idx3-ubyte.gz"), bytes[..^100], gzip: true);
        var (code, _, err) = Run("train", "--model", "lenet5", "--epochs", "1", "--data", dir.Path);
        Assert.Equal(2, code);
        Assert.Contains("t10k-images-idx3-ubyte", err);
        Assert.Contains("truncated", err);
    }
}
