using System.Numerics.Tensors;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// A stride-1 "same" convolution (odd kernel k, padding (k-1)/2) of one image without im2col. The image is
/// copied once into zero-padded planes of pitch W' = w + k - 1; then output position oy*W' + ox reads tap
/// (ky, kx) of channel c at plane c + ky*W' + kx + (oy*W' + ox), so each im2col row is just a pointer into
/// the padded planes and <see cref="Gemm.MultiplyRows"/> reads them in place. The GEMM computes k - 1 extra
/// columns per output row (the pitch), which are dropped when the result is copied out.
/// </summary>
/// <remarks>
/// The same product gives the input gradient of such a convolution: it is the same-convolution of the output
/// gradient with the kernel transposed (in and out swapped) and flipped (<see cref="FlipTranspose"/>); and the
/// weight gradient multiplies the padded input's shifted planes by the padded output gradient
/// (<see cref="Backward"/>).
/// </remarks>
public static unsafe class PaddedConv
{
    /// <summary>True when the shape qualifies: stride 1, odd kernel above 1, padding (k-1)/2, and rows wide enough that the pitch overhead stays small.</summary>
    public static bool Applies(int kernel, int stride, int padding, int w) =>
        Gemm.RowsSupported && stride == 1 && kernel > 1 && (kernel & 1) == 1 && 2 * padding == kernel - 1 && w >= 12;

    /// <summary>Floats of padded input scratch for <paramref name="channels"/> planes of h x w.</summary>
    public static int PaddedLength(int channels, int h, int w, int kernel) => channels * PlaneStride(h, w, kernel);

    /// <summary>Floats of GEMM output scratch: <paramref name="outChannels"/> rows of h x W'.</summary>
    public static int OutputLength(int outChannels, int h, int w, int kernel) => outChannels * h * (w + kernel - 1);

    // A padded plane is (h + k - 1) rows of pitch W', plus k - 1 floats so the last tap's row stays inside.
    private static int PlaneStride(int h, int w, int kernel) => (h + kernel - 1) * (w + kernel - 1) + kernel - 1;

    /// <summary>
    /// y[o] (h x w, packed) = sum over c, taps of weight[o, c*k*k + tap] * x[c] shifted, for one image of
    /// <paramref name="channels"/> planes. <paramref name="padded"/>, <paramref name="wide"/> and
    /// <paramref name="rows"/> (channels*k*k pointers) are scratch of the sizes above. A <paramref name="bias"/>
    /// (one per output channel) and a ReLU are applied while the result is copied out, not in extra passes.
    /// </summary>
    public static void Forward(float* x, int channels, int h, int w, int kernel, float* weight, int outChannels,
        float* y, float* padded, float* wide, float** rows, float* bias = null, bool relu = false)
    {
        Pad(x, channels, h, w, kernel, padded);
        Convolve(padded, channels, h, w, kernel, weight, outChannels, y, wide, rows, bias, relu);
    }

    /// <summary>
    /// The backward pass of one image. The output gradient is padded once into <paramref name="paddedGrad"/>
    /// (<paramref name="outChannels"/> planes) and serves both products: the input gradient
    /// <paramref name="dx"/> = same-conv(dy, <paramref name="flipped"/>) (skipped when null), and, when
    /// <paramref name="dWT"/> is not null, the weight gradient added to it transposed and tap-major,
    /// <c>dWT[(t*channels + c)*outChannels + o]</c> += sum over positions of x[c] shifted by tap t times dy[o]:
    /// the shifted planes of the padded x and the padded dy (whose pitch columns are border zeros) are both read
    /// in place, with no im2col. <paramref name="wide"/> and <paramref name="rows"/> (outChannels*k*k pointers)
    /// are needed for dx, <paramref name="paddedX"/> for dWT.
    /// </summary>
    public static void Backward(float* x, float* gradOut, int channels, int outChannels, int h, int w, int kernel,
        float* flipped, float* dx, float* dWT, float* paddedGrad, float* paddedX, float* wide, float** rows)
    {
        Pad(gradOut, outChannels, h, w, kernel, paddedGrad);
        if (dx != null) Convolve(paddedGrad, outChannels, h, w, kernel, flipped, channels, dx, wide, rows, null, false);
        if (dWT == null) return;
        int p = (kernel - 1) / 2, pitch = w + kernel - 1, stride = PlaneStride(h, w, kernel), taps = kernel * kernel;
        Pad(x, channels, h, w, kernel, paddedX);
        Span<int> offsets = stackalloc int[taps];
        for (int ky = 0; ky < kernel; ky++)
            for (int kx = 0; kx < kernel; kx++) offsets[ky * kernel + kx] = ky * pitch + kx;
        // Gradient row o at the padded pitch starts at its plane's first interior element.
        Gemm.AccumulateShifted(channels, outChannels, h * pitch, paddedX, stride, offsets, paddedGrad + p * pitch + p, stride, dWT, outChannels);
    }

    // The product on already padded planes: one row pointer per (channel, tap), then the result copied out
    // without the pitch columns (bias and ReLU on the way).
    private static void Convolve(float* padded, int channels, int h, int w, int kernel, float* weight, int outChannels,
        float* y, float* wide, float** rows, float* bias, bool relu)
    {
        int pitch = w + kernel - 1, stride = PlaneStride(h, w, kernel), taps = kernel * kernel;
        for (int c = 0; c < channels; c++)
        {
            float* plane = padded + (long)c * stride;
            for (int ky = 0; ky < kernel; ky++)
                for (int kx = 0; kx < kernel; kx++)
                    rows[c * taps + ky * kernel + kx] = plane + ky * pitch + kx;
        }
        int n = h * pitch;
        Gemm.MultiplyRows(outChannels, n, channels * taps, weight, channels * taps, rows, wide, n);
        for (int o = 0; o < outChannels; o++)
        {
            float* src = wide + (long)o * n, dst = y + (long)o * h * w;
            for (int oy = 0; oy < h; oy++)
            {
                var from = new ReadOnlySpan<float>(src + (long)oy * pitch, w);
                var to = new Span<float>(dst + (long)oy * w, w);
                if (bias != null) TensorPrimitives.Add(from, bias[o], to);
                else from.CopyTo(to);
                if (relu) TensorPrimitives.Max(to, 0f, to);
            }
        }
    }

    // Zero-padded planes of pitch W' (see the class remarks).
    private static void Pad(float* x, int channels, int h, int w, int kernel, float* padded)
    {
        int p = (kernel - 1) / 2, pitch = w + kernel - 1, stride = PlaneStride(h, w, kernel);
        new Span<float>(padded, channels * stride).Clear();
        for (int c = 0; c < channels; c++)
        {
            float* src = x + (long)c * h * w, dst = padded + (long)c * stride + p * pitch + p;
            for (int iy = 0; iy < h; iy++)
                new ReadOnlySpan<float>(src + (long)iy * w, w).CopyTo(new Span<float>(dst + (long)iy * pitch, w));
        }
    }

    /// <summary>
    /// Writes the weight of the input-gradient convolution: flipped[c, o*k*k + t] = weight[o, c*k*k + (k*k-1-t)]
    /// for a [out, in*k*k] weight, so that dx = same-conv(dy, flipped).
    /// </summary>
    public static void FlipTranspose(ReadOnlySpan<float> weight, int outChannels, int inChannels, int kernel, Span<float> flipped)
    {
        int taps = kernel * kernel;
        for (int o = 0; o < outChannels; o++)
            for (int c = 0; c < inChannels; c++)
                for (int t = 0; t < taps; t++)
                    flipped[(c * outChannels + o) * taps + t] = weight[(o * inChannels + c) * taps + (taps - 1 - t)];
    }
}
