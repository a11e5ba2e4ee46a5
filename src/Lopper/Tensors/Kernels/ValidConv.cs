namespace Lopper.Tensors.Kernels;

/// <summary>
/// A stride-1 convolution without padding ("valid", as in LeNet-5's second layer) of one image through the direct
/// tiles, reading the input in place: tap (c, ky, kx) of output (oy, ox) is input element
/// <c>c*h*w + (oy + ky)*w + ox + kx</c>, so an output row's positions read consecutive floats and neither an
/// im2col matrix nor a padded copy is needed.
/// </summary>
internal static unsafe class ValidConv
{
    /// <summary>True for the shape this handles (stride 1, no padding, a kernel wider than 1) on Vector512 hardware.</summary>
    public static bool Applies(int kernel, int stride, int padding) => Gemm.RowsSupported && kernel > 1 && stride == 1 && padding == 0;

    /// <summary>
    /// True when the direct tiles' lanes (channels rounded up to 16 or 32) cost no more than 1.5 times the
    /// im2col GEMM's columns for an <paramref name="oh"/> x <paramref name="ow"/> output (as
    /// <see cref="PaddedConv.UsesDirect"/> weighs it; the GEMM here also pays for the column matrix).
    /// </summary>
    public static bool UsesDirect(int oh, int ow, int outChannels) => PaddedConv.DirectPays(outChannels, (long)oh * ow, (oh * ow + 15) & ~15);

    /// <summary>
    /// y = the convolution of one image of <paramref name="channels"/> h x w planes (bias, residual and ReLU as in
    /// <see cref="PaddedConv.Forward"/>), with <paramref name="packed"/> the [out, in*k*k] weight through
    /// <see cref="PaddedConv.PackWeights"/>.
    /// </summary>
    public static void Forward(float* x, int channels, int h, int w, int kernel, float* packed, int outChannels, float* y,
        float* bias = null, bool relu = false, float* residual = null)
    {
        int oh = h - kernel + 1, ow = w - kernel + 1, depth = channels * kernel * kernel;
        int* offsets = stackalloc int[depth];
        int* rowOffsets = stackalloc int[kernel == 3 ? channels * 3 : 0];
        PaddedConv.TapOffsets(channels, kernel, h * w, w, offsets, rowOffsets);
        PaddedConv.ConvolveDirect(x, offsets, depth, w, oh, ow, packed, outChannels, y, bias, relu, residual, kernel == 3 ? rowOffsets : null);
    }
}
