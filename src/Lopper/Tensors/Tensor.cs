namespace Lopper.Tensors;

/// <summary>
/// A dense float32 tensor, contiguous, row-major (NCHW for images). The array is exactly
/// <see cref="Length"/> long so it can come from and go back to <see cref="BufferPool"/>.
/// </summary>
public sealed class Tensor
{
    /// <summary>The values, row-major.</summary>
    public float[] Data { get; private set; }

    /// <summary>The dimensions.</summary>
    public int[] Shape { get; }

    /// <summary>Number of elements.</summary>
    public int Length => Data.Length;

    /// <summary>Wraps an existing array (no copy).</summary>
    public Tensor(int[] shape, float[] data)
    {
        if (Numel(shape) != data.Length)
            throw new ArgumentException($"shape [{string.Join(",", shape)}] needs {Numel(shape)} values, got {data.Length}");
        Shape = shape;
        Data = data;
    }

    /// <summary>A zero tensor with its own (non-pooled) array.</summary>
    public Tensor(params int[] shape) : this(shape, new float[Numel(shape)]) { }

    /// <summary>A tensor whose array comes from the pool; contents undefined unless <paramref name="zero"/>.</summary>
    public static Tensor Pooled(int[] shape, bool zero = false)
    {
        int n = Numel(shape);
        return new Tensor(shape, zero ? BufferPool.RentZeroed(n) : BufferPool.Rent(n));
    }

    /// <summary>Returns the array to the pool; the tensor must not be used afterwards.</summary>
    public void Release()
    {
        BufferPool.Return(Data);
        Data = [];
    }

    /// <summary>The values as a span.</summary>
    public Span<float> Span => Data;

    /// <summary>Size of dimension <paramref name="i"/> (negative counts from the end).</summary>
    public int Dim(int i) => Shape[i < 0 ? Shape.Length + i : i];

    /// <summary>Product of the dimensions.</summary>
    public static int Numel(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        if (n > int.MaxValue) throw new LopperInputException($"tensor too large: {n} elements");
        return (int)n;
    }

    /// <summary>A deep copy with its own array.</summary>
    public Tensor Clone() => new((int[])Shape.Clone(), (float[])Data.Clone());

    /// <summary>Shape as text, e.g. "[128,16,28,28]".</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(",", shape.ToArray()) + "]";

    /// <inheritdoc/>
    public override string ToString() => $"Tensor{Format(Shape)}";
}
