using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// Forward and backward loops of the smooth and clipped activations (sigmoid, hard-sigmoid, hard-swish, SiLU,
/// clip) for which <see cref="TensorPrimitives"/> has no single call. Backward functions work in place on the
/// gradient. Vector512 where the hardware has it, Vector256 otherwise, scalar tails.
/// </summary>
internal static class ActivationKernels
{
    // SiLU needs sigmoid(x) in two passes; chunks this long stay in L1 between them.
    private const int Chunk = 1024;

    /// <summary>g *= y * (1 - y), with y the sigmoid's output.</summary>
    public static void SigmoidFromOutput(ReadOnlySpan<float> y, Span<float> g)
    {
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float gr = ref MemoryMarshal.GetReference(g);
        int n = g.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref yr, (nuint)i);
                (Vector512.LoadUnsafe(ref gr, (nuint)i) * (v - v * v)).StoreUnsafe(ref gr, (nuint)i);
            }
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref yr, (nuint)i);
                (Vector256.LoadUnsafe(ref gr, (nuint)i) * (v - v * v)).StoreUnsafe(ref gr, (nuint)i);
            }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref yr, i);
            Unsafe.Add(ref gr, i) *= v - v * v;
        }
    }

    /// <summary>y = min(max(x * scale + shift, lo), hi): clip (scale 1, shift 0) and hard-sigmoid (alpha, beta, 0, 1).</summary>
    public static void AffineClamp(ReadOnlySpan<float> x, float scale, float shift, float lo, float hi, Span<float> y)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> s = Vector512.Create(scale), t = Vector512.Create(shift), l = Vector512.Create(lo), h = Vector512.Create(hi);
            for (; i <= n - 16; i += 16)
                Vector512.Min(Vector512.Max(Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref xr, (nuint)i), s, t), l), h).StoreUnsafe(ref yr, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> s = Vector256.Create(scale), t = Vector256.Create(shift), l = Vector256.Create(lo), h = Vector256.Create(hi);
            for (; i <= n - 8; i += 8)
                Vector256.Min(Vector256.Max(Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)i), s, t), l), h).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref yr, i) = MathF.Min(MathF.Max(MathF.FusedMultiplyAdd(Unsafe.Add(ref xr, i), scale, shift), lo), hi);
    }

    /// <summary>g = lo &lt; y &lt; hi ? g * slope : 0, with y the output of <see cref="AffineClamp"/> (the linear region).</summary>
    public static void ClampFromOutput(ReadOnlySpan<float> y, float lo, float hi, float slope, Span<float> g)
    {
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float gr = ref MemoryMarshal.GetReference(g);
        int n = g.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> l = Vector512.Create(lo), h = Vector512.Create(hi), s = Vector512.Create(slope);
            for (; i <= n - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref yr, (nuint)i);
                var inside = Vector512.GreaterThan(v, l) & Vector512.LessThan(v, h);
                (Vector512.LoadUnsafe(ref gr, (nuint)i) * s & inside).StoreUnsafe(ref gr, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> l = Vector256.Create(lo), h = Vector256.Create(hi), s = Vector256.Create(slope);
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref yr, (nuint)i);
                var inside = Vector256.GreaterThan(v, l) & Vector256.LessThan(v, h);
                (Vector256.LoadUnsafe(ref gr, (nuint)i) * s & inside).StoreUnsafe(ref gr, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref yr, i);
            Unsafe.Add(ref gr, i) = v > lo && v < hi ? Unsafe.Add(ref gr, i) * slope : 0f;
        }
    }

    /// <summary>y = x * min(max(x + 3, 0), 6) / 6.</summary>
    public static void HardSwish(ReadOnlySpan<float> x, Span<float> y)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        const float sixth = 1f / 6;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> three = Vector512.Create(3f), six = Vector512.Create(6f), k = Vector512.Create(sixth);
            for (; i <= n - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref xr, (nuint)i);
                (v * Vector512.Min(Vector512.Max(v + three, Vector512<float>.Zero), six) * k).StoreUnsafe(ref yr, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> three = Vector256.Create(3f), six = Vector256.Create(6f), k = Vector256.Create(sixth);
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                (v * Vector256.Min(Vector256.Max(v + three, Vector256<float>.Zero), six) * k).StoreUnsafe(ref yr, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref xr, i);
            Unsafe.Add(ref yr, i) = v * MathF.Min(MathF.Max(v + 3f, 0f), 6f) * sixth;
        }
    }

    /// <summary>g *= d hardswish / dx: 0 below -3, 1 above 3, (2x + 3) / 6 between (at the ends PyTorch's one-sided values: -3 gives -0.5, 3 gives 1.5).</summary>
    public static void HardSwishBackward(ReadOnlySpan<float> x, Span<float> g)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float gr = ref MemoryMarshal.GetReference(g);
        int n = g.Length, i = 0;
        const float third = 1f / 3;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> lo = Vector512.Create(-3f), hi = Vector512.Create(3f), k = Vector512.Create(third), half = Vector512.Create(0.5f);
            for (; i <= n - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref xr, (nuint)i);
                var d = Vector512.ConditionalSelect(Vector512.GreaterThan(v, hi), Vector512<float>.One, Vector512.FusedMultiplyAdd(v, k, half));
                (Vector512.LoadUnsafe(ref gr, (nuint)i) * d & Vector512.GreaterThanOrEqual(v, lo)).StoreUnsafe(ref gr, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> lo = Vector256.Create(-3f), hi = Vector256.Create(3f), k = Vector256.Create(third), half = Vector256.Create(0.5f);
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref xr, (nuint)i);
                var d = Vector256.ConditionalSelect(Vector256.GreaterThan(v, hi), Vector256<float>.One, Vector256.FusedMultiplyAdd(v, k, half));
                (Vector256.LoadUnsafe(ref gr, (nuint)i) * d & Vector256.GreaterThanOrEqual(v, lo)).StoreUnsafe(ref gr, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref xr, i);
            Unsafe.Add(ref gr, i) *= v < -3f ? 0f : v > 3f ? 1f : MathF.FusedMultiplyAdd(v, third, 0.5f);
        }
    }

    /// <summary>y = x * sigmoid(x).</summary>
    public static void Silu(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int s = 0; s < x.Length; s += Chunk)
        {
            int n = Math.Min(Chunk, x.Length - s);
            var xs = x.Slice(s, n);
            var ys = y.Slice(s, n);
            TensorPrimitives.Sigmoid(xs, ys);
            TensorPrimitives.Multiply(xs, ys, ys);
        }
    }

    /// <summary>g *= sigmoid(x) * (1 + x * (1 - sigmoid(x))), the SiLU derivative recomputed from its input.</summary>
    public static void SiluBackward(ReadOnlySpan<float> x, Span<float> g)
    {
        Span<float> sig = stackalloc float[Chunk];
        Span<float> t = stackalloc float[Chunk];
        for (int s = 0; s < x.Length; s += Chunk)
        {
            int n = Math.Min(Chunk, x.Length - s);
            var xs = x.Slice(s, n);
            var gs = g.Slice(s, n);
            Span<float> sg = sig[..n], tt = t[..n];
            TensorPrimitives.Sigmoid(xs, sg);
            TensorPrimitives.Multiply(xs, sg, tt);          // x s
            TensorPrimitives.Subtract(xs, tt, tt);          // x (1 - s)
            TensorPrimitives.MultiplyAdd(tt, sg, sg, tt);   // s x (1 - s) + s
            TensorPrimitives.Multiply(gs, tt, gs);
        }
    }
}
