using Lopper.Data;

namespace Lopper.Tests.Data;

public class CifarReaderTests
{
    private static LopperInputException Fails(Action action) => Assert.Throws<LopperInputException>(action);

    private static void AssertOneLine(LopperInputException e, string path, string keyword)
    {
        Assert.Contains(path, e.Message);
        Assert.Contains(keyword, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private static void WriteCifar10(string dir, int perBatch, int testCount)
    {
        for (int b = 1; b <= 5; b++)
        {
            int first = (b - 1) * perBatch;
            File.WriteAllBytes(Path.Combine(dir, $"data_batch_{b}.bin"), DataFiles.Cifar(perBatch, false, r => (first + r) % 10));
        }
        File.WriteAllBytes(Path.Combine(dir, "test_batch.bin"), DataFiles.Cifar(testCount, false, r => (r * 3) % 10));
    }

    [Fact]
    public void Cifar10RoundTrip()
    {
        using var dir = new TempDir();
        WriteCifar10(dir.Path, perBatch: 3, testCount: 4);
        var train = CifarReader.LoadCifar10(dir.Path, train: true);
        Assert.Equal(15, train.Count);
        Assert.Equal((3, 32, 32, 10), (train.Channels, train.Height, train.Width, train.ClassCount));
        for (int i = 0; i < 15; i++) Assert.Equal(i % 10, train.Label(i));
        // Batch 2's first record is its record 0: pixel p is (0*7 + p) % 256.
        var img = train.Image(3);
        Assert.Equal(0, img[0]);
        Assert.Equal(200, img[200]);
        Assert.Equal(7, train.Image(4)[0]);
        Assert.Equal("truck", train.ClassNames[9]);

        var test = CifarReader.LoadCifar10(dir.Path, train: false);
        Assert.Equal(4, test.Count);
        Assert.Equal([0, 3, 6, 9], test.Labels.ToArray());
    }

    [Fact]
    public void Cifar10FoundInArchiveSubdirectory()
    {
        using var dir = new TempDir();
        string sub = Directory.CreateDirectory(dir.File("cifar-10-batches-bin")).FullName;
        WriteCifar10(sub, 1, 2);
        Assert.Equal(2, CifarReader.LoadCifar10(dir.Path, train: false).Count);
    }

    [Fact]
    public void Cifar100RoundTripUsesFineLabels()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("train.bin"), DataFiles.Cifar(6, true, r => r * 17));
        File.WriteAllBytes(dir.File("test.bin"), DataFiles.Cifar(2, true, r => 99 - r));
        var train = CifarReader.LoadCifar100(dir.Path, train: true);
        Assert.Equal(6, train.Count);
        Assert.Equal(100, train.ClassCount);
        Assert.Equal([0, 17, 34, 51, 68, 85], train.Labels.ToArray());
        Assert.Equal(14, train.Image(2)[0]);
        Assert.Equal([99, 98], CifarReader.LoadCifar100(dir.Path, train: false).Labels.ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Truncated(bool cifar100)
    {
        using var dir = new TempDir();
        var bytes = DataFiles.Cifar(3, cifar100, r => r);
        string path = dir.File("f.bin");
        File.WriteAllBytes(path, bytes[..^100]);
        var e = Fails(() => CifarReader.ReadFiles([path], cifar100 ? CifarKind.Cifar100 : CifarKind.Cifar10, "x", "train"));
        AssertOneLine(e, path, "truncated");
        Assert.Contains("2 whole", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BadLabel(bool cifar100)
    {
        using var dir = new TempDir();
        int bad = cifar100 ? 130 : 10;
        string path = dir.File("f.bin");
        File.WriteAllBytes(path, DataFiles.Cifar(4, cifar100, r => r == 2 ? bad : r));
        var e = Fails(() => CifarReader.ReadFiles([path], cifar100 ? CifarKind.Cifar100 : CifarKind.Cifar10, "x", "train"));
        AssertOneLine(e, path, "out of range");
        Assert.Contains($"label {bad} in record 2", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WrongSize(bool cifar100)
    {
        using var dir = new TempDir();
        var kind = cifar100 ? CifarKind.Cifar100 : CifarKind.Cifar10;
        // A file of the other CIFAR format: whole records, but of the wrong size.
        string other = dir.File("other.bin");
        File.WriteAllBytes(other, DataFiles.Cifar(5, !cifar100, r => r));
        var e = Fails(() => CifarReader.ReadFiles([other], kind, "x", "train"));
        AssertOneLine(e, other, "wrong size");
        Assert.Contains(cifar100 ? "3073-byte CIFAR-10" : "3074-byte CIFAR-100", e.Message);

        string empty = dir.File("empty.bin");
        File.WriteAllBytes(empty, []);
        AssertOneLine(Fails(() => CifarReader.ReadFiles([empty], kind, "x", "train")), empty, "wrong size");
    }

    [Fact]
    public void MissingFileNamed()
    {
        using var dir = new TempDir();
        WriteCifar10(dir.Path, 1, 1);
        File.Delete(dir.File("data_batch_4.bin"));
        AssertOneLine(Fails(() => CifarReader.LoadCifar10(dir.Path, true)), dir.Path, "missing data_batch_4.bin");
        AssertOneLine(Fails(() => CifarReader.LoadCifar100(dir.Path, false)), dir.Path, "missing test.bin");
    }
}
