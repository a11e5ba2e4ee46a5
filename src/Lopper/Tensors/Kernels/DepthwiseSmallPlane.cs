using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// Depthwise forward for output planes of at most 16 positions (the last stages of MobileNet-style nets on small
/// images: 4x4, 2x2), one vector per (image, output channel). Each tap brings the 16 input values its outputs read
/// into one vector, zero where they fall in the padding: a two-source lane permutation where the input plane fits
/// two vectors (up to 32 floats), else two 8-lane gathers; then one multiply-add. The general path's padded phase
/// copy and row copies cost more than the multiply-adds on such planes: MobileNetV2's 4x4 layers (960 channels) ran
/// 3.5x faster this way, its 7x7 -> 4x4 stride-2 layer (gathers) 1.9x.
/// </summary>
internal static unsafe class DepthwiseSmallPlane
{
    /// <summary>True for a geometry this handles on this machine.</summary>
    public static bool Applies(in DepthwiseGeometry g) =>
        Avx512F.IsSupported && !DepthwiseConv.ForceScalar && (long)g.OutHeight * g.OutWidth <= 16 && g.Kernel * g.Kernel <= 49;

    /// <summary>y = the depthwise convolution of x (see <see cref="DepthwiseConv.Forward"/>; bias may be null).</summary>
    public static void Forward(float* x, float* w, float* bias, float* y, in DepthwiseGeometry g)
    {
        int taps = g.Kernel * g.Kernel, ow = g.OutWidth, ohw = g.OutHeight * ow;
        // Per tap, the input position each output lane reads and whether it lies inside the plane (all bits set).
        int* index = stackalloc int[taps * 16];
        int* inside = stackalloc int[taps * 16];
        for (int ky = 0; ky < g.Kernel; ky++)
            for (int kx = 0; kx < g.Kernel; kx++)
            {
                int t = ky * g.Kernel + kx;
                for (int l = 0; l < 16; l++)
                {
                    int iy = l / ow * g.Stride - g.Padding + ky * g.Dilation, ix = l % ow * g.Stride - g.Padding + kx * g.Dilation;
                    bool valid = l < ohw && iy >= 0 && iy < g.Height && ix >= 0 && ix < g.Width;
                    index[t * 16 + l] = valid ? iy * g.Width + ix : 0;
                    inside[t * 16 + l] = valid ? -1 : 0;
                }
            }
        // Pointers cannot enter a lambda; their addresses can (the caller keeps the tensors pinned).
        nint xa = (nint)x, wa = (nint)w, ba = (nint)bias, ya = (nint)y, ia = (nint)index, ma = (nint)inside;
        var geo = g;
        DepthwiseConv.ForRuns(g.Batch * g.OutChannels, (u0, u1) => Run((float*)xa, (float*)wa, (float*)ba, (float*)ya, (int*)ia, (int*)ma, geo, u0, u1));
    }

    // Units [u0, u1): unit u is output channel u % (C*m) of image u / (C*m). A plane of fewer than 16 positions is
    // stored masked to its floats, so a 2x2 plane writes nothing of the planes after it (or past the tensor). The masks
    // are the same for every unit of the call and are made once.
    private static void Run(float* x, float* w, float* bias, float* y, int* index, int* inside, in DepthwiseGeometry g, int u0, int u1)
    {
        int taps = g.Kernel * g.Kernel, ohw = g.OutHeight * g.OutWidth, hw = g.Height * g.Width, m = g.Multiplier, outChannels = g.OutChannels;
        var zero = Vector512<float>.Zero;
        var low = Simd.FirstLanes(hw);
        var high = Simd.FirstLanes(hw - 16);
        var store = Simd.FirstLanes(ohw);
        bool full = ohw == 16;
        for (int u = u0; u < u1; u++)
        {
            int k = u % outChannels;
            float* plane = x + ((long)(u / outChannels) * g.Channels + k / m) * hw, wk = w + (long)k * taps;
            var acc = Vector512.Create(bias == null ? 0f : bias[k]);
            if (hw <= 32)
            {
                var a = Avx512F.MaskLoad(plane, low, zero);
                var b = hw > 16 ? Avx512F.MaskLoad(plane + 16, high, zero) : zero;
                for (int t = 0; t < taps; t++)
                {
                    var v = Avx512F.PermuteVar16x32x2(a, Vector512.Load(index + 16 * t), b) & Vector512.Load(inside + 16 * t).AsSingle();
                    acc = Vector512.FusedMultiplyAdd(v, Vector512.Create(wk[t]), acc);
                }
            }
            else
            {
                // Two 8-lane gathers: .NET exposes no 16-lane one.
                for (int t = 0; t < taps; t++)
                {
                    var lo = Avx2.GatherMaskVector256(Vector256<float>.Zero, plane, Vector256.Load(index + 16 * t), Vector256.Load(inside + 16 * t).AsSingle(), 4);
                    var hi = ohw > 8 ? Avx2.GatherMaskVector256(Vector256<float>.Zero, plane, Vector256.Load(index + 16 * t + 8), Vector256.Load(inside + 16 * t + 8).AsSingle(), 4) : Vector256<float>.Zero;
                    acc = Vector512.FusedMultiplyAdd(Vector512.Create(lo, hi), Vector512.Create(wk[t]), acc);
                }
            }
            if (full) acc.Store(y + (long)u * ohw);
            else Avx512F.MaskStore(y + (long)u * ohw, store, acc);
        }
    }
}
