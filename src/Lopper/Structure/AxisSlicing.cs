using Lopper.Tensors;

namespace Lopper.Structure;

/// <summary>Selecting or zeroing channel slices of a tensor along one axis.</summary>
public static class AxisSlicing
{
    private static (int Outer, int Dim, int Inner) Split(int[] shape, int axis)
    {
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        return (outer, shape[axis], inner);
    }

    /// <summary>
    /// A new tensor keeping, along <paramref name="axis"/>, the index blocks [c*width, (c+1)*width) for
    /// each c in <paramref name="kept"/> (in that order).
    /// </summary>
    public static Tensor Gather(Tensor t, int axis, IReadOnlyList<int> kept, int width)
    {
        var (outer, dim, inner) = Split(t.Shape, axis);
        var shape = (int[])t.Shape.Clone();
        shape[axis] = kept.Count * width;
        var r = new Tensor(shape);
        var src = t.Span;
        var dst = r.Span;
        int block = width * inner;
        for (int o = 0; o < outer; o++)
            for (int k = 0; k < kept.Count; k++)
                src.Slice(o * dim * inner + kept[k] * block, block).CopyTo(dst.Slice((o * kept.Count + k) * block, block));
        return r;
    }

    /// <summary>Zeroes, along <paramref name="axis"/>, the index blocks of every channel in <paramref name="removed"/>.</summary>
    public static void Zero(Tensor t, int axis, IReadOnlyList<int> removed, int width)
    {
        var (outer, dim, inner) = Split(t.Shape, axis);
        int block = width * inner;
        var s = t.Span;
        for (int o = 0; o < outer; o++)
            foreach (int c in removed) s.Slice(o * dim * inner + c * block, block).Clear();
    }

    /// <summary>Sum of absolute values of channel c's block along an axis (an L1 norm per channel).</summary>
    public static double L1(Tensor t, int axis, int c, int width)
    {
        var (outer, dim, inner) = Split(t.Shape, axis);
        int block = width * inner;
        double sum = 0;
        for (int o = 0; o < outer; o++) sum += TensorPrimitives.SumOfMagnitudes(t.Span.Slice(o * dim * inner + c * block, block));
        return sum;
    }

    /// <summary>Sum of squares of channel c's block of a group slice.</summary>
    public static double SumOfSquares(Tensor t, GroupSlice slice, int c)
    {
        var (outer, dim, inner) = Split(t.Shape, slice.Axis);
        int block = slice.Width * inner, start = First(slice, c) * inner;
        double sum = 0;
        for (int o = 0; o < outer; o++) sum += TensorPrimitives.SumOfSquares(t.Span.Slice(o * dim * inner + start, block));
        return sum;
    }

    // Index along the slice's axis where channel c's block begins.
    private static int First(GroupSlice slice, int c) => slice.Starts is null ? c * slice.Width : slice.Start(c);

    /// <summary>Number of values in one channel's block of a group slice.</summary>
    public static long SliceLength(Tensor t, GroupSlice slice)
    {
        var (outer, _, inner) = Split(t.Shape, slice.Axis);
        return (long)outer * slice.Width * inner;
    }

    /// <summary>dst = factor · src over channel c's block of a group slice (both tensors of one shape).</summary>
    public static void ScaledCopy(Tensor src, Tensor dst, GroupSlice slice, int c, float factor)
    {
        var (outer, dim, inner) = Split(src.Shape, slice.Axis);
        int block = slice.Width * inner, start = First(slice, c) * inner;
        for (int o = 0; o < outer; o++)
        {
            int at = o * dim * inner + start;
            TensorPrimitives.Multiply(src.Span.Slice(at, block), factor, dst.Span.Slice(at, block));
        }
    }

    /// <summary>Zeroes the blocks of every channel in <paramref name="removed"/> of a group slice.</summary>
    public static void Zero(Tensor t, GroupSlice slice, IReadOnlyList<int> removed)
    {
        if (slice.Starts is null) { Zero(t, slice.Axis, removed, slice.Width); return; }
        var (outer, dim, inner) = Split(t.Shape, slice.Axis);
        int block = slice.Width * inner;
        var s = t.Span;
        for (int o = 0; o < outer; o++)
            foreach (int c in removed) s.Slice(o * dim * inner + slice.Start(c) * inner, block).Clear();
    }

    /// <summary>Sum of absolute values of channel c's block of a group slice.</summary>
    public static double L1(Tensor t, GroupSlice slice, int c)
    {
        if (slice.Starts is null) return L1(t, slice.Axis, c, slice.Width);
        var (outer, dim, inner) = Split(t.Shape, slice.Axis);
        int block = slice.Width * inner;
        double sum = 0;
        for (int o = 0; o < outer; o++) sum += TensorPrimitives.SumOfMagnitudes(t.Span.Slice(o * dim * inner + slice.Start(c) * inner, block));
        return sum;
    }
}
