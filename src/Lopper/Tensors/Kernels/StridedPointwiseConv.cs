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
    /// Floats of gathered-input scratch for <paramref name="channels"/> planes of oh x ow outputs, and one vector of
    /// slack (the stride-2 gather once stored whole vectors past a row; it writes only its rows now, but the slack stays
    /// for the direct tiles, whose reads past the last plane were not re-checked without it).
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
            if (stride == 2) StridedConv.GatherEvenRowsAndColumns(plane, h, w, dst, ow);
            else
                for (int oy = 0; oy < oh; oy++, dst += ow)
                    for (int ox = 0; ox < ow; ox++) dst[ox] = plane[(long)oy * stride * w + ox * stride];
        }
        int* offsets = stackalloc int[channels];
        for (int c = 0; c < channels; c++) offsets[c] = c * oh * ow;
        PaddedConv.ConvolveDirect(gathered, offsets, channels, ow, oh, ow, packed, outChannels, y, bias, relu, residual);
    }
}
