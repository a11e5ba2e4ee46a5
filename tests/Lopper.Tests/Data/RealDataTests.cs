using Lopper.Data;

namespace Lopper.Tests.Data;

/// <summary>Real Fashion-MNIST: the full set where Debian's dataset-fashion-mnist is installed, and the subset embedded in the library.</summary>
public class RealDataTests
{
    [FullFashionMnistFact]
    [Trait("Category", "RealData")]
    public void FashionMnistFromDefaultDirectory()
    {
        var splits = DataCatalog.Resolve("fashion-mnist", null);
        var (train, test) = splits;
        Assert.False(splits.IsEmbeddedSubset);
        Assert.Equal(60000, train.Count);
        Assert.Equal(10000, test.Count);
        foreach (var ds in new[] { train, test })
        {
            Assert.Equal((1, 28, 28, 10), (ds.Channels, ds.Height, ds.Width, ds.ClassCount));
            var perClass = new int[10];
            foreach (int label in ds.Labels) perClass[label]++;
            // Fashion-MNIST is exactly balanced: 6000 / 1000 per class.
            Assert.All(perClass, n => Assert.Equal(ds.Count / 10, n));
        }

        // Published Fashion-MNIST training statistics.
        var (mean, std) = train.ChannelStats();
        Assert.Equal(0.2860, mean[0], 3);
        Assert.Equal(0.3530, std[0], 3);
    }

    [Fact]
    public void EmbeddedSubsetStandsInWhenTheFullSetIsMissing()
    {
        using var empty = new TempDir();
        var splits = DataCatalog.Resolve("fashion-mnist", null, defaultRoot: empty.Path);
        Assert.True(splits.IsEmbeddedSubset);
        Assert.Equal(EmbeddedFashionMnist.SourceName, splits.Source);
        var (train, test) = splits;
        Assert.Equal(("fashion-mnist", 10000, 2000), (train.Name, train.Count, test.Count));
        Assert.Equal((1, 28, 28, 10), (train.Channels, train.Height, train.Width, train.ClassCount));
        Assert.Equal("Ankle boot", train.ClassNames[9]);
        // Class counts of the first 10,000 / 2,000 images of Fashion-MNIST (counted from the Debian package's files).
        Assert.Equal(new[] { 942, 1027, 1016, 1019, 974, 989, 1021, 1022, 990, 1000 }, Counts(train));
        Assert.Equal(new[] { 200, 203, 214, 190, 219, 195, 197, 200, 194, 188 }, Counts(test));
        // The subset's pixel statistics are those of Fashion-MNIST (full set: mean 0.2860, std 0.3530).
        var (mean, std) = train.ChannelStats();
        Assert.Equal(0.286, mean[0], 2);
        Assert.Equal(0.353, std[0], 2);
    }

    [FullFashionMnistFact]
    [Trait("Category", "RealData")]
    public void EmbeddedSubsetIsTheHeadOfTheFullSet()
    {
        using var empty = new TempDir();
        var (subTrain, subTest) = DataCatalog.Resolve("fashion-mnist", null, defaultRoot: empty.Path);
        var (train, test) = DataCatalog.Resolve("fashion-mnist", null);
        foreach (var (sub, full) in new[] { (subTrain, train), (subTest, test) })
        {
            Assert.True(sub.Pixels.SequenceEqual(full.Pixels[..sub.Pixels.Length]));
            Assert.True(sub.Labels.SequenceEqual(full.Labels[..sub.Count]));
        }
    }

    private static int[] Counts(Dataset ds)
    {
        var perClass = new int[ds.ClassCount];
        foreach (int label in ds.Labels) perClass[label]++;
        return perClass;
    }
}
