using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Data.Images;
using Lopper.Imaging;
using Lopper.Io;
using Lopper.Tests.Data;
using Lopper.Tests.Data.Images;
using Lopper.Training;

using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Cli;

/// <summary>Image folders, NumPy arrays, transfer learning and predict through the lopper command.</summary>
[Collection(ConsoleCollection.Name)]
public class UserDataCliTests
{
    /// <summary>3 classes of 16x16 RGB images: a bright square in the red, green or blue channel at a seeded place.</summary>
    private static void WriteShapes(string dir, int perClass, int size = 16)
    {
        string[] names = ["blue", "green", "red"];
        int index = 0;
        foreach (var split in new[] { "train", "val" })
            for (int i = 0; i < perClass * 3; i++, index++)
            {
                int cls = i % 3, channel = 2 - cls;
                var px = new byte[size * size * 3];
                for (int p = 0; p < px.Length; p++) px[p] = (byte)((p * 31 + index * 17) % 40);
                int x0 = index * 5 % (size / 2), y0 = index * 3 % (size / 2);
                for (int y = y0; y < y0 + size / 2; y++)
                    for (int x = x0; x < x0 + size / 2; x++) px[(y * size + x) * 3 + channel] = 230;
                ImageFiles.Png(Path.Combine(dir, split, names[cls], $"{index:D4}.png"), new DecodedImage(size, size, 3, px));
            }
    }

    private static string Train(TempDir dir, string data, string name, params string[] extra)
    {
        var run = dir.File(name);
        var (code, _, err) = Run(["train", "--model", "lenet5", "--dataset", "imagefolder", "--data", data, "--epochs", "2", "--batch-size", "10",
            "--out", run, "--json", "--threads", "1", "--lr", "0.05", .. extra]);
        Assert.True(code == 0, err);
        return run;
    }

    [Fact]
    public void ExportedIdxFolderTrainsBitIdenticallyToTheIdxFiles()
    {
        using var dir = new TempDir();
        var idx = TinyData(dir, 120, 40);
        var folder = dir.File("png");
        var (code, _, err) = Run("export-images", "--dataset", "fashion-mnist", "--data", idx, "--out", folder, "--threads", "1");
        Assert.True(code == 0, err);
        string[] common = ["--model", "lenet5", "--epochs", "1", "--batch-size", "20", "--json", "--threads", "1", "--seed", "4"];
        (code, var a, err) = Run(["train", "--data", idx, .. common]);
        Assert.True(code == 0, err);
        (code, var b, err) = Run(["train", "--dataset", "imagefolder", "--data", folder, .. common]);
        Assert.True(code == 0, err);
        Assert.Equal((double)JsonNode.Parse(a)!["train_loss"]!, (double)JsonNode.Parse(b)!["train_loss"]!);
        Assert.Equal((double)JsonNode.Parse(a)!["test_accuracy"]!, (double)JsonNode.Parse(b)!["test_accuracy"]!);
    }

    [Fact]
    public void RgbFolderTrainsPrunesPredictsAndInspects()
    {
        using var dir = new TempDir();
        var data = dir.File("shapes");
        WriteShapes(data, 6, size: 32);
        var run = Train(dir, data, "run");
        var pre = Preprocessing.TryLoad(run)!;
        Assert.Equal(["blue", "green", "red"], pre.ClassNames);
        Assert.Equal([3, 32, 32], pre.InputShape);
        Assert.Equal("rgb", pre.ChannelOrder);

        var pruned = dir.File("pruned");
        var (code, _, err) = Run("prune", "l1", "--from", run, "--out", pruned, "--target-macs", "0.5", "--threads", "1", "--json");
        Assert.True(code == 0, err);
        Assert.Equal(pre.ClassNames, Preprocessing.TryLoad(pruned)!.ClassNames);

        (code, var output, err) = Run("inspect", "--from", pruned, "--json");
        Assert.True(code == 0, err);
        var inspected = JsonNode.Parse(output)!;
        Assert.Equal(3, (int)inspected["classes"]!);
        Assert.Equal(3, (int)inspected["layers"]!.AsArray()[^1]!["output_shape"]!.AsArray()[0]!);

        // predict from files must give what the model gives on the same images through the training data path.
        var images = Directory.GetFiles(Path.Combine(data, "val", "red")).Order(StringComparer.Ordinal).Take(2).ToArray();
        (code, output, err) = Run(["predict", "--from", pruned, .. images, "--json", "--top", "3"]);
        Assert.True(code == 0, err);
        var preds = JsonNode.Parse(output)!["predictions"]!.AsArray();
        var model = ModelStore.Load(pruned);
        var decoded = images.Select(p => (p, SkiaImageDecoder.Instance.Decode(p))).ToList();
        var chw = new byte[2 * 3 * 32 * 32];
        for (int i = 0; i < 2; i++) ImageTransform.ToChw(decoded[i].Item2, 3, chw.AsSpan(i * 3072, 3072));
        var loader = new DataLoader(new Dataset("x", "val", chw, [2, 2], 3, 32, 32, 3), 2, 0, shuffle: false, pre.Mean, pre.Std);
        using var batch = loader.GetBatch(0, 0);
        var probs = Predictor.Probabilities(model, batch.Images);
        for (int i = 0; i < 2; i++)
        {
            var top = preds[i]!["top"]!.AsArray();
            Assert.Equal(3, top.Count);
            int best = Enumerable.Range(0, 3).MaxBy(c => probs[i * 3 + c]);
            Assert.Equal(pre.ClassNames[best], (string)top[0]!["class"]!);
            Assert.Equal(probs[i * 3 + best], (float)top[0]!["probability"]!, 5);
            Assert.Equal(1.0, top.Sum(t => (double)t!["probability"]!), 4);
        }
        (code, output, _) = Run("predict", "--from", pruned, images[0]);
        Assert.Equal(0, code);
        Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(images[0])}: (blue|green|red) ", output);
    }

    [Fact]
    public void TransferResetsTheHeadFreezesAndPrunes()
    {
        using var dir = new TempDir();
        var idx = TinyData(dir, 60, 20);
        var source = TrainTiny(dir, "lenet5", idx, "src");
        var data = dir.File("three");
        var (code0, _, err0) = Run("export-images", "--dataset", "fashion-mnist", "--data", idx, "--out", data, "--classes", "7,2,5", "--threads", "1");
        Assert.True(code0 == 0, err0);
        var run = dir.File("transfer");
        var (code, _, err) = Run("train", "--from", source, "--dataset", "imagefolder", "--data", data, "--epochs", "1", "--batch-size", "6",
            "--out", run, "--threads", "1", "--json");
        Assert.Equal(2, code);
        Assert.Contains("model has 10 classes, the data 3; pass --reset-head 3", err);
        Assert.False(Directory.Exists(run));
        (code, _, err) = Run("train", "--from", source, "--reset-head", "4", "--dataset", "imagefolder", "--data", data, "--epochs", "1", "--out", run, "--threads", "1");
        Assert.Equal(2, code);
        Assert.Contains("--reset-head 4: the data has 3 classes", err);

        (code, _, err) = Run("train", "--from", source, "--reset-head", "3", "--freeze-until", "pool2", "--dataset", "imagefolder", "--data", data,
            "--epochs", "1", "--batch-size", "6", "--out", run, "--threads", "1", "--json");
        Assert.True(code == 0, err);
        var before = ModelStore.Load(source);
        var after = ModelStore.Load(run);
        Assert.Equal(3, after.Graph.Classes);
        Assert.Equal(before.Find("conv2.weight")!.Value.Span.ToArray(), after.Find("conv2.weight")!.Value.Span.ToArray());
        Assert.NotEqual(before.Find("fc1.weight")!.Value.Span.ToArray(), after.Find("fc1.weight")!.Value.Span.ToArray());
        // The source's normalisation travels into the transferred model; the class names are the new data's.
        var pre = Preprocessing.TryLoad(run)!;
        Assert.Equal(Preprocessing.TryLoad(source)!.Mean, pre.Mean);
        Assert.Equal(["00-Sneaker", "01-Pullover", "02-Sandal"], pre.ClassNames);

        (code, _, err) = Run("prune", "l1", "--from", run, "--out", dir.File("tp"), "--target-macs", "0.5", "--threads", "1", "--json");
        Assert.True(code == 0, err);
        Assert.Equal(3, ModelStore.Load(dir.File("tp")).Graph.Classes);
    }

    [Fact]
    public void FolderWithoutPreprocessingRecordLoadsWithTodaysDefaultsAndSaysSoOnce()
    {
        using var dir = new TempDir();
        var idx = TinyData(dir, 60, 20);
        var run = TrainTiny(dir, "lenet5", idx);
        var (_, first, _) = Run("eval", "--from", run, "--json", "--threads", "1");
        File.Delete(Path.Combine(run, Preprocessing.FileName));
        var (code, second, err) = Run("eval", "--from", run, "--json", "--threads", "1");
        Assert.Equal(0, code);
        Assert.Equal((double)JsonNode.Parse(first)!["test_accuracy"]!, (double)JsonNode.Parse(second)!["test_accuracy"]!);
        // Said at most once per process (an earlier test in this process may already have said it).
        Assert.True(System.Text.RegularExpressions.Regex.Matches(err, "has no preprocessing.json").Count <= 1, err);
    }

    [Fact]
    public void NpyArraysTrain()
    {
        using var dir = new TempDir();
        int n = 30;
        var px = new byte[n * 28 * 28];
        var labels = new long[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 3;
            for (int p = 0; p < 784; p++) px[i * 784 + p] = (byte)(p / 28 / 10 == i % 3 ? 220 : (p + i) % 30);
        }
        File.WriteAllBytes(dir.File("x_train.npy"), NpyTests.U8([n, 28, 28], px));
        File.WriteAllBytes(dir.File("y_train.npy"), NpyTests.I64(labels));
        File.WriteAllLines(dir.File("classes.txt"), ["top", "middle", "bottom"]);
        var run = dir.File("run");
        var (code, _, err) = Run("train", "--model", "lenet5", "--dataset", "npy", "--data", dir.Path, "--val-split", "0.2", "--epochs", "1",
            "--batch-size", "8", "--out", run, "--threads", "1", "--json");
        Assert.True(code == 0, err);
        Assert.Equal(["top", "middle", "bottom"], Preprocessing.TryLoad(run)!.ClassNames);
        (code, _, err) = Run("eval", "--from", run, "--threads", "1");
        Assert.True(code == 0, err);
    }

    public static TheoryData<string, string> BadCases() => new()
    {
        { "truncated", "trunc.png: truncated image" },
        { "garbage", "junk.png: not a readable PNG or JPEG image" },
        { "empty-class", "empty: class folder has no images" },
        { "mixed", "odd.png: 20x12, but" },
        { "empty-split", "leaves the validation split empty" },
        { "label", "y_val.npy: label 3 at index 0 is out of range for 3 classes" },
        { "no-val", "has train/ but no val/" },
    };

    [Theory]
    [MemberData(nameof(BadCases))]
    public void BadDataExitsWith2NamingTheFileAndWritesNoModel(string kind, string expected)
    {
        using var dir = new TempDir();
        var data = dir.File("data");
        string dataset = "imagefolder";
        List<string> extra = [];
        if (kind == "label")
        {
            dataset = "npy";
            Directory.CreateDirectory(data);
            File.WriteAllBytes(Path.Combine(data, "x_train.npy"), NpyTests.U8([3, 28, 28], new byte[3 * 784]));
            File.WriteAllBytes(Path.Combine(data, "y_train.npy"), NpyTests.I64([0, 1, 2]));
            File.WriteAllBytes(Path.Combine(data, "x_val.npy"), NpyTests.U8([1, 28, 28], new byte[784]));
            File.WriteAllBytes(Path.Combine(data, "y_val.npy"), NpyTests.I64([3]));
        }
        else if (kind == "empty-split")
        {
            foreach (var c in new[] { "a", "b" }) ImageFiles.Png(Path.Combine(data, c, "0.png"), ImageFiles.Pattern(28, 28, 1, 1));
            extra = ["--val-split", "0.3"];
        }
        else
        {
            WriteShapes(data, 2, size: 28);
            var some = Directory.GetFiles(Path.Combine(data, "train", "red"))[0];
            switch (kind)
            {
                case "truncated":
                    var bytes = File.ReadAllBytes(some);
                    File.WriteAllBytes(Path.Combine(data, "train", "red", "trunc.png"), bytes[..(bytes.Length * 2 / 3)]);
                    break;
                case "garbage": File.WriteAllText(Path.Combine(data, "val", "blue", "junk.png"), "<html>not an image</html>"); break;
                case "empty-class":
                    Directory.CreateDirectory(Path.Combine(data, "train", "empty"));
                    break;
                case "mixed": ImageFiles.Png(Path.Combine(data, "train", "green", "odd.png"), ImageFiles.Pattern(20, 12, 3, 3)); break;
                case "no-val": Directory.Delete(Path.Combine(data, "val"), true); break;
            }
        }
        var run = dir.File("run");
        var (code, output, err) = Run(["train", "--model", "lenet5", "--dataset", dataset, "--data", data, "--epochs", "1", "--out", run, "--threads", "1", .. extra]);
        Assert.Equal(2, code);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", err);
        Assert.False(Directory.Exists(run), "a failed run must not leave a model folder");
    }

    [Fact]
    public void ImageFlagsWithABuiltInDatasetAreRejected()
    {
        var (code, _, err) = Run("train", "--model", "lenet5", "--resize", "32", "--epochs", "1");
        Assert.Equal(2, code);
        Assert.Contains("--resize, --crop and --val-split apply to the imagefolder and npy datasets, not fashion-mnist", err);
    }

    [Fact]
    public void PredictNamesAnUnreadableImage()
    {
        using var dir = new TempDir();
        var idx = TinyData(dir, 40, 20);
        var run = TrainTiny(dir, "lenet5", idx);
        File.WriteAllText(dir.File("bad.jpg"), "nope");
        var (code, _, err) = Run("predict", "--from", run, dir.File("bad.jpg"));
        Assert.Equal(2, code);
        Assert.Contains("bad.jpg: not a readable PNG or JPEG image", err);
        ImageFiles.Png(dir.File("big.png"), ImageFiles.Pattern(30, 30, 1, 1));
        (code, _, err) = Run("predict", "--from", run, dir.File("big.png"));
        Assert.Equal(2, code);
        Assert.Contains("big.png: 30x30 after preprocessing, the model takes 28x28", err);
    }
}
