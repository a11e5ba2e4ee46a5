using Lopper.Data;

namespace Lopper.Tests.Data;

/// <summary>Needs the Debian package dataset-fashion-mnist; filter it out with Category!=RealData where it is not installed.</summary>
public class RealDataTests
{
    [Fact]
    [Trait("Category", "RealData")]
    public void FashionMnistFromDefaultDirectory()
    {
        string dir = DataCatalog.DefaultDirectory("fashion-mnist");
        Assert.True(Directory.Exists(dir), $"{dir} is missing: apt-get install dataset-fashion-mnist");

        var (train, test) = DataCatalog.Resolve("fashion-mnist", null);
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
}
