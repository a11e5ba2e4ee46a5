using Lopper.Data;

namespace Lopper.Tests.Data;

public class IdxReaderTests
{
    private const int N = 5, Rows = 3, Cols = 4;

    private static byte[] Labels() => [0, 9, 3, 3, 7];

    private static void WriteSet(TempDir dir, bool train, bool gzip, byte[]? images = null, byte[]? labels = null)
    {
        string prefix = train ? "train" : "t10k", ext = gzip ? ".gz" : "";
        DataFiles.Write(dir.File($"{prefix}-images-idx3-ubyte{ext}"), images ?? DataFiles.IdxImages(DataFiles.Pixels(N * Rows * Cols), N, Rows, Cols), gzip);
        DataFiles.Write(dir.File($"{prefix}-labels-idx1-ubyte{ext}"), labels ?? DataFiles.IdxLabels(Labels(), N), gzip);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RoundTrip(bool gzip)
    {
        using var dir = new TempDir();
        WriteSet(dir, train: true, gzip);
        WriteSet(dir, train: false, gzip);

        var ds = IdxReader.LoadMnistLike(dir.Path, train: true);
        Assert.Equal("mnist", ds.Name);
        Assert.Equal("train", ds.Split);
        Assert.Equal(N, ds.Count);
        Assert.Equal(1, ds.Channels);
        Assert.Equal(Rows, ds.Height);
        Assert.Equal(Cols, ds.Width);
        Assert.Equal(10, ds.ClassCount);
        Assert.Equal(DataFiles.Pixels(N * Rows * Cols), ds.Pixels.ToArray());
        Assert.Equal([0, 9, 3, 3, 7], ds.Labels.ToArray());

        var test = IdxReader.LoadFashionMnist(dir.Path, train: false);
        Assert.Equal("test", test.Split);
        Assert.Equal("Ankle boot", test.ClassNames[9]);
    }

    [Fact]
    public void PlainNameWinsOverGzip()
    {
        using var dir = new TempDir();
        WriteSet(dir, train: true, gzip: true);
        // A broken .gz next to a good plain file must not be read.
        File.WriteAllBytes(dir.File("train-labels-idx1-ubyte"), DataFiles.IdxLabels(Labels(), N));
        File.WriteAllBytes(dir.File("train-labels-idx1-ubyte.gz"), [0x1f, 0x8b, 1, 2, 3]);
        Assert.Equal(N, IdxReader.LoadMnistLike(dir.Path, train: true).Count);
    }

    private static LopperInputException Fails(Action action) => Assert.Throws<LopperInputException>(action);

    private static void AssertOneLine(LopperInputException e, string path, string keyword)
    {
        Assert.Contains(path, e.Message);
        Assert.Contains(keyword, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedImageFile(bool gzip)
    {
        using var dir = new TempDir();
        var full = DataFiles.IdxImages(DataFiles.Pixels(N * Rows * Cols), N, Rows, Cols);
        WriteSet(dir, true, gzip, images: full[..^(Rows * Cols + 2)]);
        string path = dir.File("train-images-idx3-ubyte" + (gzip ? ".gz" : ""));
        var e = Fails(() => IdxReader.LoadMnistLike(dir.Path, true));
        AssertOneLine(e, path, "truncated");
        Assert.Contains($"header says {N} images of {Rows}x{Cols}, file has {N - 2}", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedLabelFile(bool gzip)
    {
        using var dir = new TempDir();
        WriteSet(dir, true, gzip, labels: DataFiles.IdxLabels(Labels()[..3], N));
        string path = dir.File("train-labels-idx1-ubyte" + (gzip ? ".gz" : ""));
        var e = Fails(() => IdxReader.LoadMnistLike(dir.Path, true));
        AssertOneLine(e, path, "truncated");
        Assert.Contains($"header says {N} labels, file has 3", e.Message);
    }

    [Fact]
    public void TruncatedHeader()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("x"), [0, 0, 8, 1, 0]);
        AssertOneLine(Fails(() => IdxReader.ReadLabels(dir.File("x"), 10)), dir.File("x"), "truncated");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrailingBytes(bool gzip)
    {
        using var dir = new TempDir();
        var labels = DataFiles.IdxLabels([.. Labels(), 1, 2], N);
        WriteSet(dir, true, gzip, labels: labels);
        var e = Fails(() => IdxReader.LoadMnistLike(dir.Path, true));
        AssertOneLine(e, dir.File("train-labels-idx1-ubyte" + (gzip ? ".gz" : "")), "trailing");
        Assert.Contains("2 bytes more", e.Message);
    }

    [Fact]
    public void WrongMagic()
    {
        using var dir = new TempDir();
        // Labels and images swapped: each file has the other's magic.
        File.WriteAllBytes(dir.File("train-images-idx3-ubyte"), DataFiles.IdxLabels(Labels(), N));
        File.WriteAllBytes(dir.File("train-labels-idx1-ubyte"), DataFiles.IdxImages(DataFiles.Pixels(N * Rows * Cols), N, Rows, Cols));
        var e = Fails(() => IdxReader.LoadMnistLike(dir.Path, true));
        AssertOneLine(e, dir.File("train-images-idx3-ubyte"), "wrong magic");
        Assert.Contains("0x00000801", e.Message);
        Assert.Contains("0x00000803", e.Message);

        File.WriteAllBytes(dir.File("junk"), "hello, this is not IDX"u8.ToArray());
        AssertOneLine(Fails(() => IdxReader.ReadImages(dir.File("junk"))), dir.File("junk"), "not an IDX file");
    }

    [Fact]
    public void LabelOutOfRange()
    {
        using var dir = new TempDir();
        WriteSet(dir, true, false, labels: DataFiles.IdxLabels([0, 1, 2, 10, 4], N));
        var e = Fails(() => IdxReader.LoadMnistLike(dir.Path, true));
        AssertOneLine(e, dir.File("train-labels-idx1-ubyte"), "out of range");
        Assert.Contains("label 10 at index 3", e.Message);
    }

    [Fact]
    public void CountMismatch()
    {
        using var dir = new TempDir();
        WriteSet(dir, true, false, labels: DataFiles.IdxLabels([0, 1, 2, 3], 4));
        var e = Fails(() => IdxReader.LoadMnistLike(dir.Path, true));
        AssertOneLine(e, dir.File("train-labels-idx1-ubyte"), "mismatch");
        Assert.Contains(dir.File("train-images-idx3-ubyte"), e.Message);
        Assert.Contains($"{N} images", e.Message);
    }

    [Fact]
    public void CorruptGzip()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("bad.gz"), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff]);
        var e = Fails(() => IdxReader.ReadLabels(dir.File("bad.gz"), 10));
        Assert.Contains(dir.File("bad.gz"), e.Message);
    }

    [Fact]
    public void MissingFileAndDirectory()
    {
        using var dir = new TempDir();
        WriteSet(dir, true, false);
        var e = Fails(() => IdxReader.LoadMnistLike(dir.Path, train: false));
        AssertOneLine(e, dir.Path, "missing t10k-images-idx3-ubyte");

        string gone = dir.File("nope");
        AssertOneLine(Fails(() => IdxReader.LoadMnistLike(gone, true)), gone, "directory not found");
        AssertOneLine(Fails(() => IdxReader.ReadImages(gone)), gone, "file not found");
    }
}
