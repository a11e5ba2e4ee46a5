using System.Buffers.Binary;
using System.IO.Compression;

namespace Lopper.Data;

/// <summary>Images read from an IDX file: Count images of Rows x Cols, one byte per pixel.</summary>
/// <param name="Pixels">Count*Rows*Cols bytes, image after image, row-major.</param>
/// <param name="Count">Number of images.</param>
/// <param name="Rows">Image height.</param>
/// <param name="Cols">Image width.</param>
public readonly record struct IdxImages(byte[] Pixels, int Count, int Rows, int Cols);

/// <summary>
/// Reads MNIST-style IDX files (unsigned-byte images and labels), gzip-compressed or raw. Every
/// defect — wrong magic, truncation, trailing bytes, bad labels, mismatched counts — becomes a
/// <see cref="LopperInputException"/> whose one-line message starts with the file path.
/// </summary>
public static class IdxReader
{
    /// <summary>Magic number of an IDX file of unsigned-byte images (3 dimensions: N, rows, cols).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an IDX file of unsigned-byte labels (1 dimension: N).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>The ten Fashion-MNIST class names, in label order.</summary>
    public static IReadOnlyList<string> FashionMnistClasses { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>
    /// Standard file names without the optional ".gz": index 0/1 are train images/labels, 2/3 test images/labels.
    /// </summary>
    public static IReadOnlyList<string> StandardFileNames { get; } =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>Loads Fashion-MNIST (28x28 grey, 10 classes) from a directory with the standard file names.</summary>
    /// <param name="dir">Directory holding the four IDX files, e.g. /usr/share/datasets/fashion-mnist.</param>
    /// <param name="train">True for the 60 000 training images, false for the 10 000 test images.</param>
    public static Dataset LoadFashionMnist(string dir, bool train) => LoadMnistLike(dir, train, "fashion-mnist", FashionMnistClasses);

    /// <summary>
    /// Loads an MNIST-like split from <paramref name="dir"/>, which must hold
    /// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
    /// t10k-labels-idx1-ubyte, each optionally with ".gz" (the plain name wins if both exist).
    /// </summary>
    /// <param name="dir">Directory holding the files.</param>
    /// <param name="train">True for the training split, false for the test split.</param>
    /// <param name="name">Dataset name recorded in the result.</param>
    /// <param name="classNames">Class names (10), or null for "0".."9".</param>
    public static Dataset LoadMnistLike(string dir, bool train, string name = "mnist", IReadOnlyList<string>? classNames = null)
    {
        if (!Directory.Exists(dir)) throw new LopperInputException($"{dir}: directory not found (expected {name} IDX files)");
        string images = FindFile(dir, StandardFileNames[train ? 0 : 2]);
        string labels = FindFile(dir, StandardFileNames[train ? 1 : 3]);
        return Load(images, labels, name, train ? "train" : "test", 10, classNames);
    }

    /// <summary>The path of <paramref name="baseName"/> or <paramref name="baseName"/>.gz in <paramref name="dir"/>.</summary>
    /// <exception cref="LopperInputException">Neither exists; the message names the directory and the file.</exception>
    public static string FindFile(string dir, string baseName)
    {
        string plain = Path.Combine(dir, baseName);
        if (File.Exists(plain)) return plain;
        string gz = plain + ".gz";
        if (File.Exists(gz)) return gz;
        throw new LopperInputException($"{dir}: missing {baseName} (or {baseName}.gz)");
    }

    /// <summary>
    /// Reads an images file and a labels file and checks they describe the same number of samples
    /// and that every label is below <paramref name="classCount"/>.
    /// </summary>
    /// <param name="imagesPath">IDX images file (magic 0x00000803), raw or gzip.</param>
    /// <param name="labelsPath">IDX labels file (magic 0x00000801), raw or gzip.</param>
    /// <param name="name">Dataset name recorded in the result.</param>
    /// <param name="split">Split name recorded in the result.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <param name="classNames">Optional class names.</param>
    public static Dataset Load(string imagesPath, string labelsPath, string name, string split, int classCount = 10,
        IReadOnlyList<string>? classNames = null)
    {
        var images = ReadImages(imagesPath);
        var labels = ReadLabels(labelsPath, classCount);
        if (images.Count != labels.Length)
            throw new LopperInputException($"{labelsPath}: count mismatch: has {labels.Length} labels but {imagesPath} has {images.Count} images");
        return new Dataset(name, split, images.Pixels, labels, 1, images.Rows, images.Cols, classCount, classNames);
    }

    /// <summary>Reads an IDX unsigned-byte images file (raw or gzip).</summary>
    /// <exception cref="LopperInputException">The file is missing, unreadable, not an images file, truncated or has trailing bytes.</exception>
    public static IdxImages ReadImages(string path)
    {
        using var stream = Open(path);
        Span<byte> header = stackalloc byte[16];
        ReadHeader(stream, path, header, ImagesMagic, "images");
        int count = ReadDim(header, 4), rows = ReadDim(header, 8), cols = ReadDim(header, 12);
        if (count < 1 || rows < 1 || cols < 1)
            throw new LopperInputException($"{path}: bad header: {count} images of {rows}x{cols}");
        long payload = (long)count * rows * cols;
        if ((long)rows * cols > MaxImagePixels || payload > Array.MaxLength)
            throw new LopperInputException($"{path}: bad header: {count} images of {rows}x{cols} is more than one array can hold");
        string says = $"header says {count} images of {rows}x{cols}";
        int imageSize = rows * cols;
        CheckRawLength(stream, path, 16, payload, says, imageSize);

        var pixels = ReadPayload(stream, path, payload, says, imageSize);
        CheckNoTrailing(stream, path, says);
        CheckGzipTrailer(stream, path, header, pixels);
        return new IdxImages(pixels, count, rows, cols);
    }

    /// <summary>Reads an IDX unsigned-byte labels file (raw or gzip) and checks every label is below <paramref name="classCount"/>.</summary>
    /// <exception cref="LopperInputException">The file is missing, unreadable, not a labels file, truncated, has trailing bytes or a label out of range.</exception>
    public static int[] ReadLabels(string path, int classCount)
    {
        using var stream = Open(path);
        Span<byte> header = stackalloc byte[8];
        ReadHeader(stream, path, header, LabelsMagic, "labels");
        int count = ReadDim(header, 4);
        if (count < 1) throw new LopperInputException($"{path}: bad header: {count} labels");
        string says = $"header says {count} labels";
        CheckRawLength(stream, path, 8, count, says, 1);

        var raw = ReadPayload(stream, path, count, says, 1);
        CheckNoTrailing(stream, path, says);
        CheckGzipTrailer(stream, path, header, raw);

        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int label = raw[i];
            if (label >= classCount)
                throw new LopperInputException($"{path}: label {label} at index {i} is out of range (expected 0..{classCount - 1})");
            labels[i] = label;
        }
        return labels;
    }

    /// <summary>Opens the file, transparently decompressing when it starts with the gzip magic 0x1f 0x8b.</summary>
    private static Stream Open(string path)
    {
        FileStream fs;
        try
        {
            fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new LopperInputException($"{path}: file not found");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LopperInputException($"{path}: cannot open: {e.Message}", e);
        }
        try
        {
            int b0 = fs.ReadByte(), b1 = fs.ReadByte();
            fs.Position = 0;
            if (b0 == 0x1f && b1 == 0x8b) return new GZipStream(fs, CompressionMode.Decompress, leaveOpen: false);
            return fs;
        }
        catch (IOException e)
        {
            fs.Dispose();
            throw new LopperInputException($"{path}: cannot read: {e.Message}", e);
        }
    }

    private static void ReadHeader(Stream stream, string path, Span<byte> header, int expectedMagic, string what)
    {
        int got = ReadFully(stream, path, header);
        // The magic is checked before the length so a labels file passed as images says so, rather than "truncated".
        if (got >= 4)
        {
            int magic = BinaryPrimitives.ReadInt32BigEndian(header);
            if (magic != expectedMagic)
                throw new LopperInputException(
                    $"{path}: wrong magic 0x{magic:x8} ({Describe(magic)}), expected 0x{expectedMagic:x8} (IDX {what})");
        }
        if (got < header.Length)
            throw new LopperInputException($"{path}: truncated: file is {got} bytes, shorter than the {header.Length}-byte IDX {what} header");
    }

    private static string Describe(int magic) => magic switch
    {
        ImagesMagic => "IDX images",
        LabelsMagic => "IDX labels",
        _ when (magic & unchecked((int)0xFFFF0000)) == 0 => $"IDX type 0x{(magic >> 8) & 0xFF:x2} with {magic & 0xFF} dimensions",
        _ => "not an IDX file",
    };

    private static int ReadDim(ReadOnlySpan<byte> header, int offset)
    {
        // Dimensions are unsigned 32-bit; anything at or above 2^31 is nonsense for a byte array and reads as negative here.
        return BinaryPrimitives.ReadInt32BigEndian(header[offset..]);
    }

    /// <summary>
    /// For an uncompressed file the length is known up front, so a bad length is reported before
    /// allocating a payload that a corrupt header may have made huge.
    /// </summary>
    private static void CheckRawLength(Stream stream, string path, int headerSize, long payload, string says, int itemSize)
    {
        if (stream is not FileStream fs) return;
        long have = fs.Length - headerSize;
        if (have < payload) throw new LopperInputException(Truncated(path, says, itemSize, have, payload));
        if (have > payload)
            throw new LopperInputException($"{path}: trailing bytes: {says}, file has {have - payload} bytes more than that");
    }

    private static string Truncated(string path, string says, int itemSize, long have, long payload) => itemSize == 1
        ? $"{path}: truncated: {says}, file has {have}"
        : $"{path}: truncated: {says}, file has {have / itemSize} ({have} of {payload} pixel bytes)";

    private static void CheckNoTrailing(Stream stream, string path, string says)
    {
        Span<byte> scratch = stackalloc byte[4096];
        long extra = 0;
        int n;
        // Counting stops at 1 MiB: a compressed file could otherwise keep the reader busy for a long time.
        while (extra < (1 << 20) && (n = ReadSome(stream, path, scratch)) > 0) extra += n;
        if (extra > 0)
            throw new LopperInputException($"{path}: trailing bytes: {says}, file has {(extra >= 1 << 20 ? "at least " : "")}{extra} bytes more than that");
    }

    /// <summary>Largest image accepted (pixels): 2^24, far beyond any IDX data set.</summary>
    public const int MaxImagePixels = 1 << 24;

    /// <summary>
    /// Reads <paramref name="payload"/> bytes. A raw file's length was checked already; a compressed one's payload is
    /// only known by reading it, so the buffer grows with the data actually present (at most twice what it holds)
    /// instead of trusting a header that a 34-byte file can fill with 2^31.
    /// </summary>
    private static byte[] ReadPayload(Stream stream, string path, long payload, string says, int itemSize)
    {
        if (stream is FileStream)
        {
            var all = GC.AllocateUninitializedArray<byte>((int)payload);
            int got = ReadFully(stream, path, all);
            if (got < payload) throw new LopperInputException(Truncated(path, says, itemSize, got, payload));
            return all;
        }
        var buf = new byte[(int)Math.Min(payload, 1 << 20)];
        long have = 0;
        while (have < payload)
        {
            if (have == buf.Length) Array.Resize(ref buf, (int)Math.Min(payload, 2L * buf.Length));
            int n = ReadSome(stream, path, buf.AsSpan((int)have, buf.Length - (int)have));
            if (n == 0) throw new LopperInputException(Truncated(path, says, itemSize, have, payload));
            have += n;
        }
        return buf;
    }

    /// <summary>
    /// A gzip file ends with the CRC-32 and length (mod 2^32) of everything it decompresses to. The decompressor
    /// stops at the end of the deflate data, so a file cut before its trailer, or with bytes after it, would pass
    /// unnoticed; comparing the file's last eight bytes with the data read catches both.
    /// </summary>
    private static void CheckGzipTrailer(Stream stream, string path, ReadOnlySpan<byte> header, byte[] payload)
    {
        if (stream is not GZipStream) return;
        uint crc = Crc32.Append(Crc32.Append(0, header), payload);
        uint size = unchecked((uint)(header.Length + payload.LongLength));
        Span<byte> tail = stackalloc byte[8];
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            if (fs.Length < 18 + 8) throw new LopperInputException($"{path}: truncated gzip file (no trailer)");
            fs.Position = fs.Length - 8;
            fs.ReadExactly(tail);
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(tail) != crc || BinaryPrimitives.ReadUInt32LittleEndian(tail[4..]) != size)
            throw new LopperInputException($"{path}: gzip trailer does not match the data (CRC-32/length): the file is truncated, corrupt, or has bytes after its end");
    }

    private static int ReadFully(Stream stream, string path, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = ReadSome(stream, path, buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    private static int ReadSome(Stream stream, string path, Span<byte> buffer)
    {
        try
        {
            return stream.Read(buffer);
        }
        catch (InvalidDataException e)
        {
            throw new LopperInputException($"{path}: corrupt gzip data: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new LopperInputException($"{path}: cannot read: {e.Message}", e);
        }
    }
}
