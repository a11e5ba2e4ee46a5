using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// A 1x1 convolution with a stride above 1 and no padding (a ResNet's projection shortcut) of one image through
/// the direct tiles: the strided input positions are gathered into compact oh x ow planes, and the product is
/// then a pointwise convolution whose output rows read consecutive floats, as the tiles need.
/// </summary>
/// <remarks>
/// The im2col path it replaces gathered the same positions into a column matrix and ran a GEMM of depth 16-32
/// over 49-196 columns per image (ResNet-20's shortcuts ran at 60-70 GFLOP/s on two Zen 5 cores, ONNX Runtime's at
/// 1.4-2.9x that speed); the gather here is the same copy, and the tiles keep the product in registers.
/// </remarks>
internal static unsafe class StridedPointwiseConv
{
    /// <summary>True for the shape this handles (a 1x1 kernel, stride above 1, no padding) on Vector512 hardware.</summary>
    public static bool Applies(int kernel, int stride, int padding) => Gemm.RowsSupported && kernel == 1 && stride > 1 && padding == 0;

    /// <summary>
    /// Floats of gathered-input scratch for <paramref name="channels"/> planes of oh x ow outputs (and one vector of
    /// slack: the stride-2 gather stores whole vectors, the next row overwriting what spills past a row).
    /// </summary>
    public static int GatheredLength(int channels, int oh, int ow) => channels * oh * ow + 16;

    /// <summary>
    /// y = the convolution of one image of <paramref name="channels"/> h x w planes (bias, residual and ReLU as in
    /// <see cref="PaddedConv.Forward"/>), with <paramref name="packed"/> the [out, in] weight through
    /// <see cref="PaddedConv.PackWeights"/> and <paramref name="gathered"/> scratch of <see cref="GatheredLength"/> floats.
    /// With <paramref name="inputs"/> (a kernel-column pruned 1x1 weight, whose columns are input channels) the
    /// product reads only those channels of x, in that order, and <paramref name="channels"/> is their count.
    /// </summary>
    public static void Forward(float* x, int channels, int h, int w, int stride, float* packed, int outChannels, float* y, float* gathered,
        float* bias = null, bool relu = false, float* residual = null, int[]? inputs = null)
    {
        int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
        for (int c = 0; c < channels; c++)
        {
            float* plane = x + (long)(inputs is null ? c : inputs[c]) * h * w, dst = gathered + (long)c * oh * ow;
            if (stride == 2) GatherEven(plane, oh, 2 * w, ow, dst);
            else
                for (int oy = 0; oy < oh; oy++, dst += ow)
                    for (int ox = 0; ox < ow; ox++) dst[ox] = plane[(long)oy * stride * w + ox * stride];
        }
        int* offsets = stackalloc int[channels];
        for (int c = 0; c < channels; c++) offsets[c] = c * oh * ow;
        PaddedConv.ConvolveDirect(gathered, offsets, channels, ow, oh, ow, packed, outChannels, y, bias, relu, residual);
    }

    // Row r of dst (ow floats, rows packed) = src[r*pitch], src[r*pitch + 2], ..., src[r*pitch + 2(ow - 1)]: 16 at a
    // time from two (masked) loads and one lane permutation. The scalar loop it replaces took about as long as the
    // product on ResNet-20's shortcuts; rows up to 16 outputs wide (all of theirs) take one vector with the masks
    // made once. Reads stop at src[2(ow - 1)] of a row (masked past it); the store is a whole vector (see GatheredLength).
    private static void GatherEven(float* src, int rows, long pitch, int ow, float* dst)
    {
        var zero = Vector512<float>.Zero;
        if (ow <= 16)
        {
            int n = 2 * ow - 1;   // inputs a row reads: at most 31
            var low = Simd.FirstLanes(n);
            var high = Simd.FirstLanes(Math.Max(n - 16, 0));
            for (int r = 0; r < rows; r++, src += pitch, dst += ow)
            {
                var a = Avx512F.MaskLoad(src, low, zero);
                var b = Avx512F.MaskLoad(src + 16, high, zero);
                Avx512F.PermuteVar16x32x2(a, Simd.EvenLanes, b).Store(dst);
            }
            return;
        }
        for (int r = 0; r < rows; r++, src += pitch, dst += ow)
            for (int ox = 0; ox < ow; ox += 16)
            {
                int n = 2 * Math.Min(16, ow - ox) - 1;
                float* s = src + 2 * ox;
                var a = n >= 16 ? Vector512.Load(s) : Avx512F.MaskLoad(s, Simd.FirstLanes(n), zero);
                var b = n > 16 ? Avx512F.MaskLoad(s + 16, Simd.FirstLanes(n - 16), zero) : zero;
                Avx512F.PermuteVar16x32x2(a, Simd.EvenLanes, b).Store(dst + ox);
            }
    }
}
