using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// Max pooling with a 2x2 window, stride 2 and no padding (every VGG and LeNet pool), one plane at a time.
/// Output (oy, ox) is the max of input rows 2oy, 2oy+1 and columns 2ox, 2ox+1; an odd last row or column is
/// dropped, as in the general op. Ties and the gradient go to the first of the four in row-major order.
/// </summary>
/// <remarks>
/// Rows are done 16 outputs at a time with AVX-512 (two 16-float loads per input row, split into even and odd
/// columns by a two-source permute); a shorter rest of a row uses masked loads and stores, so the same vector
/// code runs for narrow planes (LeNet's 14- and 5-wide outputs), where scalar compares would mispredict on
/// every other window. AVX2 parts run the forward 8 outputs at a time the same way (the backward there is scalar).
/// The backward pass needs no saved argmax: it re-reads the window and
/// routes the gradient to the first element equal to the output, the element the forward pass chose; a
/// window holding NaN, which matches nothing, routes to its first element.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class MaxPool2x2
{

    /// <summary>Test hook: runs the scalar fallback even where AVX-512 is present.</summary>
    internal static bool ForceScalar { get; set; }

    /// <summary>Test hook: runs the AVX2 forward even where AVX-512 is present.</summary>
    internal static bool ForceVector256 { get; set; }

    private static bool Vectorized => Avx512F.IsSupported && !ForceScalar && !ForceVector256;

    // The forward's AVX2 form (AVX2 parts; the backward there stays scalar).
    private static bool Vectorized256 => Avx2.IsSupported && !ForceScalar;

    /// <summary>Pools one h x w plane into an (h/2) x (w/2) plane.</summary>
    public static void Forward(float* src, int h, int w, float* dst)
    {
        int oh = h / 2, ow = w / 2;
        if (!Vectorized)
        {
            if (Vectorized256) Forward256(src, w, oh, ow, dst);
            else ForwardScalar(src, w, oh, ow, dst);
            return;
        }
        // Every row of a plane ends in the same rest: its masks are made once (VGG's 14-, 7- and 3-wide outputs are
        // all rest).
        int full = ow & ~15;
        var (m0, m1, mOut) = TailMasks(ow - full);
        for (int oy = 0; oy < oh; oy++)
        {
            float* r0 = src + (long)2 * oy * w, r1 = r0 + w, d = dst + (long)oy * ow;
            int ox = 0;
            for (; ox < full; ox += 16)
                Block(Vector512.Load(r0 + 2 * ox), Vector512.Load(r0 + 2 * ox + 16), Vector512.Load(r1 + 2 * ox), Vector512.Load(r1 + 2 * ox + 16)).Store(d + ox);
            if (ox == ow) continue;
            float* p0 = r0 + 2 * ox, p1 = r1 + 2 * ox;
            var v = Block(Load(p0, m0), Load(p0 + 16, m1), Load(p1, m0), Load(p1 + 16, m1));
            Avx512F.MaskStore(d + ox, mOut, v);
        }
    }

    /// <summary>
    /// Writes the input gradient of one plane: every element gets 0 except the one each window's max came
    /// from, which gets that window's output gradient.
    /// </summary>
    public static void Backward(float* src, int h, int w, float* output, float* gradOut, float* gradIn)
    {
        int oh = h / 2, ow = w / 2;
        // The vector path writes every element of the 2*oh x 2*ow windows; only a dropped odd edge needs clearing.
        if (!Vectorized || (h & 1) != 0 || (w & 1) != 0) new Span<float>(gradIn, h * w).Clear();
        if (!Vectorized)
        {
            BackwardScalar(src, w, oh, ow, output, gradOut, gradIn);
            return;
        }
        int full = ow & ~15;
        var (m0, m1, mOut) = TailMasks(ow - full);
        for (int oy = 0; oy < oh; oy++)
        {
            float* r0 = src + (long)2 * oy * w, r1 = r0 + w;
            float* g0 = gradIn + (long)2 * oy * w, g1 = g0 + w;
            float* y = output + (long)oy * ow, g = gradOut + (long)oy * ow;
            int ox = 0;
            for (; ox < full; ox += 16)
            {
                float* p0 = r0 + 2 * ox, p1 = r1 + 2 * ox;
                Route(Vector512.Load(p0), Vector512.Load(p0 + 16), Vector512.Load(p1), Vector512.Load(p1 + 16), Vector512.Load(y + ox), Vector512.Load(g + ox),
                    out var lo0, out var hi0, out var lo1, out var hi1);
                lo0.Store(g0 + 2 * ox); hi0.Store(g0 + 2 * ox + 16); lo1.Store(g1 + 2 * ox); hi1.Store(g1 + 2 * ox + 16);
            }
            if (ox == ow) continue;
            float* q0 = r0 + 2 * ox, q1 = r1 + 2 * ox;
            Route(Load(q0, m0), Load(q0 + 16, m1), Load(q1, m0), Load(q1 + 16, m1), Load(y + ox, mOut), Load(g + ox, mOut),
                out var t0, out var u0, out var t1, out var u1);
            Avx512F.MaskStore(g0 + 2 * ox, m0, t0); Avx512F.MaskStore(g0 + 2 * ox + 16, m1, u0);
            Avx512F.MaskStore(g1 + 2 * ox, m0, t1); Avx512F.MaskStore(g1 + 2 * ox + 16, m1, u1);
        }
    }

    // Lane masks for a last block of rest (< 16) windows: its 2*rest input columns (two vectors) and rest outputs.
    private static (Vector512<float> Lo, Vector512<float> Hi, Vector512<float> Out) TailMasks(int rest) =>
        (Simd.FirstLanes(2 * rest), Simd.FirstLanes(2 * rest - 16), Simd.FirstLanes(rest));

    // Masked-off lanes read nothing (no fault past the row) and come back as zero.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Load(float* p, Vector512<float> mask) => Avx512F.MaskLoad(p, mask, Vector512<float>.Zero);

    // 16 window maxima from 32 columns of two rows: column max, then max of the even and odd lanes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Block(Vector512<float> lo0, Vector512<float> hi0, Vector512<float> lo1, Vector512<float> hi1)
    {
        var lo = Vector512.Max(lo0, lo1);
        var hi = Vector512.Max(hi0, hi1);
        return Vector512.Max(Avx512F.PermuteVar16x32x2(lo, Simd.EvenLanes, hi), Avx512F.PermuteVar16x32x2(lo, Simd.OddLanes, hi));
    }

    // Gradients of 16 windows (rows 0 and 1, 32 columns each as two vectors): each window's g goes to its
    // first element equal to the max y (or, when none is, to its first element); every other element gets zero.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Route(Vector512<float> a0, Vector512<float> b0, Vector512<float> a1, Vector512<float> b1, Vector512<float> y, Vector512<float> g,
        out Vector512<float> lo0, out Vector512<float> hi0, out Vector512<float> lo1, out Vector512<float> hi1)
    {
        var q0 = Vector512.Equals(Avx512F.PermuteVar16x32x2(a0, Simd.EvenLanes, b0), y);
        var q1 = Vector512.Equals(Avx512F.PermuteVar16x32x2(a0, Simd.OddLanes, b0), y);
        var q2 = Vector512.Equals(Avx512F.PermuteVar16x32x2(a1, Simd.EvenLanes, b1), y);
        var q3 = Vector512.Equals(Avx512F.PermuteVar16x32x2(a1, Simd.OddLanes, b1), y);
        var first = q0 | ~(q0 | q1 | q2 | q3);
        var second = Vector512.AndNot(q1, first);
        var taken = first | second;
        var third = Vector512.AndNot(q2, taken);
        var fourth = Vector512.AndNot(q3, taken | third);
        Vector512<float> e0 = g & first, o0 = g & second, e1 = g & third, o1 = g & fourth;
        lo0 = Avx512F.PermuteVar16x32x2(e0, Simd.ZipLow, o0);
        hi0 = Avx512F.PermuteVar16x32x2(e0, Simd.ZipHigh, o0);
        lo1 = Avx512F.PermuteVar16x32x2(e1, Simd.ZipLow, o1);
        hi1 = Avx512F.PermuteVar16x32x2(e1, Simd.ZipHigh, o1);
    }

    // 8 outputs a step from 16 columns of two rows: column max, then the max of the even and odd lanes; a rest of a row
    // under 8 outputs reads its columns with masked loads and stores with plain ones (vmaskmovps stores are slow on AMD).
    private static void Forward256(float* src, int w, int oh, int ow, float* dst)
    {
        int full = ow & ~7, rest = ow - full;
        var m0 = Simd.FirstLanes256(2 * rest);
        var m1 = Simd.FirstLanes256(2 * rest - 8);
        for (int oy = 0; oy < oh; oy++)
        {
            float* r0 = src + (long)2 * oy * w, r1 = r0 + w, d = dst + (long)oy * ow;
            int ox = 0;
            for (; ox < full; ox += 8)
            {
                var lo = Vector256.Max(Vector256.Load(r0 + 2 * ox), Vector256.Load(r1 + 2 * ox));
                var hi = Vector256.Max(Vector256.Load(r0 + 2 * ox + 8), Vector256.Load(r1 + 2 * ox + 8));
                Vector256.Max(Simd.EvenLanes256(lo, hi), Simd.OddLanes256(lo, hi)).Store(d + ox);
            }
            if (rest == 0) continue;
            float* p0 = r0 + 2 * ox, p1 = r1 + 2 * ox;
            var a = Vector256.Max(Avx.MaskLoad(p0, m0), Avx.MaskLoad(p1, m0));
            var b = Vector256.Max(Avx.MaskLoad(p0 + 8, m1), Avx.MaskLoad(p1 + 8, m1));
            Simd.StoreFirst256(d + ox, Vector256.Max(Simd.EvenLanes256(a, b), Simd.OddLanes256(a, b)), rest);
        }
    }

    private static void ForwardScalar(float* src, int w, int oh, int ow, float* dst)
    {
        for (int oy = 0; oy < oh; oy++)
        {
            float* r0 = src + (long)2 * oy * w, r1 = r0 + w, d = dst + (long)oy * ow;
            for (int ox = 0; ox < ow; ox++)
            {
                float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], e = r1[2 * ox + 1];
                if (b > a) a = b;
                if (c > a) a = c;
                if (e > a) a = e;
                d[ox] = a;
            }
        }
    }

    private static void BackwardScalar(float* src, int w, int oh, int ow, float* output, float* gradOut, float* gradIn)
    {
        for (int oy = 0; oy < oh; oy++)
        {
            float* r0 = src + (long)2 * oy * w, r1 = r0 + w;
            float* g0 = gradIn + (long)2 * oy * w, g1 = g0 + w;
            float* y = output + (long)oy * ow, g = gradOut + (long)oy * ow;
            for (int ox = 0; ox < ow; ox++)
            {
                int c = 2 * ox;
                float m = y[ox];
                if (r0[c] == m) g0[c] = g[ox];
                else if (r0[c + 1] == m) g0[c + 1] = g[ox];
                else if (r1[c] == m) g1[c] = g[ox];
                else if (r1[c + 1] == m) g1[c + 1] = g[ox];
                else g0[c] = g[ox];
            }
        }
    }
}
