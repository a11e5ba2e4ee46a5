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
/// The backward pass needs no saved argmax: it re-reads the window and routes the gradient to the first
/// element equal to the output, which is the element the forward pass chose. A window holding NaN (whose
/// forward max is the first element, as in the general op) routes to its first element.
/// </remarks>
[SkipLocalsInit]
public static unsafe class MaxPool2x2
{
    // Lanes 0, 2, ..., 30 of a 32-float pair of vectors, for the even/odd split of a row.
    private static readonly Vector512<int> Even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> Odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);

    /// <summary>Pools one h x w plane into an (h/2) x (w/2) plane.</summary>
    public static void Forward(float* src, int h, int w, float* dst)
    {
        int oh = h / 2, ow = w / 2;
        bool wide = Avx512F.IsSupported && ow >= 16;
        var even = Even; var odd = Odd;
        for (int oy = 0; oy < oh; oy++)
        {
            float* r0 = src + (long)2 * oy * w, r1 = r0 + w, d = dst + (long)oy * ow;
            int ox = 0;
            if (wide)
            {
                // 16 outputs from 32 columns of both rows: column max, then max of the even and odd lanes.
                for (; ox + 16 <= ow; ox += 16)
                {
                    var lo = Vector512.Max(Vector512.Load(r0 + 2 * ox), Vector512.Load(r1 + 2 * ox));
                    var hi = Vector512.Max(Vector512.Load(r0 + 2 * ox + 16), Vector512.Load(r1 + 2 * ox + 16));
                    var m = Vector512.Max(Avx512F.PermuteVar16x32x2(lo, even, hi), Avx512F.PermuteVar16x32x2(lo, odd, hi));
                    m.Store(d + ox);
                }
            }
            for (; ox < ow; ox++)
            {
                float* p = r0 + 2 * ox, q = r1 + 2 * ox;
                d[ox] = Max4(p[0], p[1], q[0], q[1]);
            }
        }
    }

    /// <summary>
    /// Writes the input gradient of one plane: every element gets 0 except the one each window's max came
    /// from, which gets that window's output gradient.
    /// </summary>
    public static void Backward(float* src, int h, int w, float* output, float* gradOut, float* gradIn)
    {
        int oh = h / 2, ow = w / 2;
        new Span<float>(gradIn, h * w).Clear();
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

    // The general op's rule: the first value, replaced only by a strictly larger one (so NaN first stays).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Max4(float a, float b, float c, float d)
    {
        if (b > a) a = b;
        if (c > a) a = c;
        if (d > a) a = d;
        return a;
    }
}
