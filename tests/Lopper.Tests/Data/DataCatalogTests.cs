using Lopper.Data;

namespace Lopper.Tests.Data;

public class DataCatalogTests
{
    [Fact]
    public void UnknownNameListsKnownOnes()
    {
        var e = Assert.Throws<LopperInputException>(() => DataCatalog.Resolve("imagenet", null));
        // The library names DataSpec's property; the CLI respells it as its flag.
        Assert.StartsWith("Dataset: unknown dataset 'imagenet'", e.Message);
        Assert.StartsWith("--dataset: unknown dataset 'imagenet'", Lopper.Methods.OptionInfo.Respell(e, n => "--" + n));
        foreach (var name in DataCatalog.Names) Assert.Contains(name, e.Message);
    }

    [Fact]
    public void MissingDataDirIsNamed()
    {
        using var dir = new TempDir();
        string gone = dir.File("nope");
        var e = Assert.Throws<LopperInputException>(() => DataCatalog.Resolve("cifar10", gone));
        Assert.Equal($"Dir {gone}: directory not found", e.Message);
        Assert.Equal($"--data {gone}: directory not found", Lopper.Methods.OptionInfo.Respell(e, n => "--" + n));
    }

    [Fact]
    public void ResolvesIdxAndCifarFromDataDir()
    {
        using var dir = new TempDir();
        foreach (var (prefix, n) in new[] { ("train", 4), ("t10k", 2) })
        {
            DataFiles.Write(dir.File($"{prefix}-images-idx3-ubyte.gz"), DataFiles.IdxImages(DataFiles.Pixels(n * 4), n, 2, 2), gzip: true);
            DataFiles.Write(dir.File($"{prefix}-labels-idx1-ubyte.gz"), DataFiles.IdxLabels(new byte[n], n), gzip: true);
        }
        var (train, test) = DataCatalog.Resolve("Fashion-MNIST", dir.Path);
        Assert.Equal(("fashion-mnist", 4, 2), (train.Name, train.Count, test.Count));

        File.WriteAllBytes(dir.File("train.bin"), DataFiles.Cifar(3, true, r => r));
        File.WriteAllBytes(dir.File("test.bin"), DataFiles.Cifar(1, true, r => r));
        var (ctrain, ctest) = DataCatalog.Resolve("cifar100", dir.Path);
        Assert.Equal(("cifar100", 3, 1, 100), (ctrain.Name, ctrain.Count, ctest.Count, ctrain.ClassCount));
    }

    [Fact]
    public void DefaultFashionMnistDirectory()
    {
        Assert.Equal("/usr/share/datasets/fashion-mnist", DataCatalog.DefaultDirectory("fashion-mnist"));
    }
}
