namespace Lopper.Pruning.Snacs;

/// <summary>A row-major N × n matrix of per-image activations: row = probe image, column = channel or feature.</summary>
public sealed class ActivationMatrix
{
    /// <summary>Creates a zero matrix.</summary>
    public ActivationMatrix(int rows, int cols) : this(rows, cols, new float[(long)rows * cols]) { }

    /// <summary>Wraps <paramref name="data"/> (rows·cols values, row-major) without copying.</summary>
    public ActivationMatrix(int rows, int cols, float[] data)
    {
        if (data.LongLength != (long)rows * cols) throw new ArgumentException($"{rows}x{cols} needs {(long)rows * cols} values, got {data.LongLength}");
        Rows = rows;
        Cols = cols;
        Data = data;
    }

    /// <summary>Number of rows (images).</summary>
    public int Rows { get; }
    /// <summary>Number of columns (channels).</summary>
    public int Cols { get; }
    /// <summary>The values, row-major.</summary>
    public float[] Data { get; }

    /// <summary>Row <paramref name="r"/>.</summary>
    public Span<float> Row(int r) => Data.AsSpan(r * Cols, Cols);

    /// <summary>Columns [start, start+count) as a new matrix.</summary>
    public ActivationMatrix Columns(int start, int count)
    {
        var m = new ActivationMatrix(Rows, count);
        for (int r = 0; r < Rows; r++) Data.AsSpan(r * Cols + start, count).CopyTo(m.Data.AsSpan(r * count, count));
        return m;
    }

    /// <summary>Every column except [start, start+count), in order.</summary>
    public ActivationMatrix WithoutColumns(int start, int count)
    {
        int k = Cols - count;
        var m = new ActivationMatrix(Rows, k);
        for (int r = 0; r < Rows; r++)
        {
            var src = Data.AsSpan(r * Cols, Cols);
            var dst = m.Data.AsSpan(r * k, k);
            src[..start].CopyTo(dst);
            src[(start + count)..].CopyTo(dst[start..]);
        }
        return m;
    }

    /// <summary>The first <paramref name="rows"/> rows as a new matrix.</summary>
    public ActivationMatrix TopRows(int rows) => new(rows, Cols, Data.AsSpan(0, rows * Cols).ToArray());

    /// <summary>A copy with every entry clamped at 0 (ReLU).</summary>
    public ActivationMatrix Relu()
    {
        var m = new ActivationMatrix(Rows, Cols, (float[])Data.Clone());
        TensorPrimitives.Max(m.Data, 0f, m.Data);
        return m;
    }
}
