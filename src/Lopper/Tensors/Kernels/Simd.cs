using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// Fused elementwise loops that <see cref="TensorPrimitives"/> has no single call for. Vector512 where
/// the hardware has it, Vector256 otherwise, scalar tails.
/// </summary>
internal static class Simd
{
    /// <summary>y = x * scale + shift.</summary>
    public static void ScaleShift(ReadOnlySpan<float> x, float scale, float shift, Span<float> y)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var s = Vector512.Create(scale); var t = Vector512.Create(shift);
            for (; i <= n - 16; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i), s, t).StoreUnsafe(ref yr, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var s = Vector256.Create(scale); var t = Vector256.Create(shift);
            for (; i <= n - 8; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i), s, t).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref yr, i) = MathF.FusedMultiplyAdd(Unsafe.Add(ref xr, i), scale, shift);
    }

    /// <summary>z = a * x + b * y + c (batch-norm backward in one pass).</summary>
    public static void Combine(ReadOnlySpan<float> x, float a, ReadOnlySpan<float> y, float b, float c, Span<float> z)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float zr = ref MemoryMarshal.GetReference(z);
        int n = x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(a); var vb = Vector512.Create(b); var vc = Vector512.Create(c);
            for (; i <= n - 16; i += 16)
            {
                var r = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i), va, vc);
                Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref yr, (nuint)i), vb, r).StoreUnsafe(ref zr, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a); var vb = Vector256.Create(b); var vc = Vector256.Create(c);
            for (; i <= n - 8; i += 8)
            {
                var r = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i), va, vc);
                Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref yr, (nuint)i), vb, r).StoreUnsafe(ref zr, (nuint)i);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref zr, i) = Unsafe.Add(ref xr, i) * a + Unsafe.Add(ref yr, i) * b + c;
    }

    /// <summary>Sum of (x - mean)^2, accumulated in float lanes then double.</summary>
    public static double SumSquaredDeviation(ReadOnlySpan<float> x, float mean)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        int n = x.Length, i = 0;
        double total = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var m = Vector512.Create(mean); var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                var d = Vector512.LoadUnsafe(ref xr, (nuint)i) - m;
                acc = Vector512.FusedMultiplyAdd(d, d, acc);
            }
            total = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var m = Vector256.Create(mean); var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
            {
                var d = Vector256.LoadUnsafe(ref xr, (nuint)i) - m;
                acc = Vector256.FusedMultiplyAdd(d, d, acc);
            }
            total = Vector256.Sum(acc);
        }
        for (; i < n; i++) { float d = Unsafe.Add(ref xr, i) - mean; total += d * d; }
        return total;
    }

    /// <summary>dx = dy where y &gt; 0, else 0 (ReLU backward from its output).</summary>
    public static void ReluBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float gr = ref MemoryMarshal.GetReference(dy);
        ref float dr = ref MemoryMarshal.GetReference(dx);
        int n = y.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
            {
                var mask = Vector512.GreaterThan(Vector512.LoadUnsafe(ref yr, (nuint)i), Vector512<float>.Zero);
                (Vector512.LoadUnsafe(ref gr, (nuint)i) & mask).StoreUnsafe(ref dr, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - 8; i += 8)
            {
                var mask = Vector256.GreaterThan(Vector256.LoadUnsafe(ref yr, (nuint)i), Vector256<float>.Zero);
                (Vector256.LoadUnsafe(ref gr, (nuint)i) & mask).StoreUnsafe(ref dr, (nuint)i);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref dr, i) = Unsafe.Add(ref yr, i) > 0 ? Unsafe.Add(ref gr, i) : 0f;
    }

    /// <summary>gradient = gradient where output &gt; 0, else 0, in place, split over threads for large tensors.</summary>
    public static void ParallelReluBackward(Tensor output, Tensor gradient)
    {
        float[] y = output.Data, g = gradient.Data;
        Parallelism.ForSlices(gradient.Length, (s, n) => ReluBackward(y.AsSpan(s, n), g.AsSpan(s, n), g.AsSpan(s, n)));
    }

    /// <summary>y = max(a + b, 0) in one pass (a residual join's fused ReLU).</summary>
    public static void AddRelu(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        ref float ar = ref MemoryMarshal.GetReference(a);
        ref float br = ref MemoryMarshal.GetReference(b);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int n = a.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
                Vector512.Max(Vector512.LoadUnsafe(ref ar, (nuint)i) + Vector512.LoadUnsafe(ref br, (nuint)i), Vector512<float>.Zero).StoreUnsafe(ref yr, (nuint)i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                Vector256.Max(Vector256.LoadUnsafe(ref ar, (nuint)i) + Vector256.LoadUnsafe(ref br, (nuint)i), Vector256<float>.Zero).StoreUnsafe(ref yr, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref yr, i) = MathF.Max(Unsafe.Add(ref ar, i) + Unsafe.Add(ref br, i), 0f);
    }

    // Properties of constants, not static fields: a kernel compiled fully optimised before this class is initialised
    // read a field through an initialisation check in its loop, which spilled every live vector around it.
    /// <summary>Indices 0, 2, ..., 30: the even lanes of two vectors through <c>PermuteVar16x32x2</c> (a stride-2 gather).</summary>
    internal static Vector512<int> EvenLanes => Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);

    /// <summary>Indices 1, 3, ..., 31: the odd lanes of two vectors through <c>PermuteVar16x32x2</c>.</summary>
    internal static Vector512<int> OddLanes => Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);

    /// <summary>Indices 0, 16, 1, 17, ..., 7, 23: the low halves of two vectors interleaved (the inverse of the even/odd split).</summary>
    internal static Vector512<int> ZipLow => Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);

    /// <summary>Indices 8, 24, ..., 15, 31: the high halves of two vectors interleaved.</summary>
    internal static Vector512<int> ZipHigh => Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

    /// <summary>
    /// Lanes 0, 2, .., 14 of (lo, hi) (a stride-2 gather on AVX2): shufps takes (lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6) and
    /// vpermpd puts its qwords in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> EvenLanes256(Vector256<float> lo, Vector256<float> hi) =>
        Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();

    /// <summary>Lanes 1, 3, .., 15 of (lo, hi) (see <see cref="EvenLanes256"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> OddLanes256(Vector256<float> lo, Vector256<float> hi) =>
        Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();

    /// <summary>
    /// Stores the first <paramref name="count"/> lanes of <paramref name="v"/> (all for 8 or more, none for 0 or less)
    /// with plain stores: the store form of <c>vmaskmovps</c> is microcoded on AMD parts (on Zen 3 it made the stride-2
    /// phase split about twice as slow, and Winograd's output transform 8-20 %).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void StoreFirst256(float* dst, Vector256<float> v, int count)
    {
        if (count >= 8)
        {
            v.Store(dst);
            return;
        }
        if (count <= 0) return;
        var rest = v.GetLower();
        if (count >= 4)
        {
            rest.Store(dst);
            if (count == 4) return;
            rest = v.GetUpper();
            dst += 4;
            count -= 4;
        }
        if (count >= 2)
        {
            Sse.StoreLow(dst, rest);
            if (count == 3) dst[2] = rest.GetElement(2);
        }
        else dst[0] = rest.ToScalar();
    }

    /// <summary>
    /// <paramref name="v"/> plus the <paramref name="residual"/>'s lanes (when given), through a ReLU (when asked), into the
    /// first <paramref name="count"/> floats of <paramref name="dst"/> (all 8 for 8 or more, none for 0 or less): the
    /// epilogue of the Vector256 convolution kernels. A partial vector reads the residual with a masked load and is
    /// written with <see cref="StoreFirst256"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Finish256(float* dst, Vector256<float> v, float* residual, bool relu, int count)
    {
        if (count >= 8)
        {
            if (residual != null) v += Vector256.Load(residual);
            if (relu) v = Vector256.Max(v, Vector256<float>.Zero);
            v.Store(dst);
            return;
        }
        if (count <= 0) return;
        if (residual != null) v += Avx.MaskLoad(residual, FirstLanes256(count));
        if (relu) v = Vector256.Max(v, Vector256<float>.Zero);
        StoreFirst256(dst, v, count);
    }

    /// <summary>A Vector256 mask of the first <paramref name="n"/> lanes (all lanes for n &gt;= 8), for <c>Avx.MaskLoad</c> (stores take <see cref="StoreFirst256"/>).</summary>
    internal static Vector256<float> FirstLanes256(int n) =>
        Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(n)).AsSingle();

    /// <summary>A Vector512 mask of the first <paramref name="n"/> lanes (all lanes for n &gt;= 16), for masked loads and stores of a row's tail.</summary>
    internal static Vector512<float> FirstLanes(int n) =>
        Vector512.LessThan(Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create(n)).AsSingle();
}
