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
/// The same routine gives the input gradient of such a convolution: it is the same-convolution of the output
/// gradient with the kernel transposed (in and out swapped) and flipped (<see cref="FlipTranspose"/>).
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
        int pitch = w + kernel - 1, stride = PlaneStride(h, w, kernel), taps = kernel * kernel;
        Pad(x, channels, h, w, kernel, padded);
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

    /// <summary>Floats of padded-pitch gradient scratch for <see cref="WeightGradient"/>: <paramref name="outChannels"/> rows of h x W'.</summary>
    public static int GradientLength(int outChannels, int h, int w, int kernel) => OutputLength(outChannels, h, w, kernel);

    /// <summary>
    /// Adds one image's weight gradient, transposed and tap-major: <c>dWT[(t*channels + c)*outChannels + o]</c>
    /// += sum over positions of x[c] shifted by tap t times dy[o]. x is padded into <paramref name="padded"/>
    /// as in <see cref="Forward"/> and dy copied into <paramref name="gradWide"/> at the padded pitch with zeros
    /// in the pitch's extra columns, so the shifted planes of x are read in place (no im2col).
    /// </summary>
    public static void WeightGradient(float* x, int channels, int h, int w, int kernel, float* gradOut, int outChannels,
        float* dWT, float* padded, float* gradWide)
    {
        int pitch = w + kernel - 1, stride = PlaneStride(h, w, kernel), taps = kernel * kernel;
        Pad(x, channels, h, w, kernel, padded);
        int n = h * pitch;
        for (int o = 0; o < outChannels; o++)
        {
            float* src = gradOut + (long)o * h * w, dst = gradWide + (long)o * n;
            for (int oy = 0; oy < h; oy++)
            {
                new ReadOnlySpan<float>(src + (long)oy * w, w).CopyTo(new Span<float>(dst + (long)oy * pitch, w));
                new Span<float>(dst + (long)oy * pitch + w, pitch - w).Clear();
            }
        }
        Span<int> offsets = stackalloc int[taps];
        for (int ky = 0; ky < kernel; ky++)
            for (int kx = 0; kx < kernel; kx++) offsets[ky * kernel + kx] = ky * pitch + kx;
        Gemm.AccumulateShifted(channels, outChannels, n, padded, stride, offsets, gradWide, n, dWT, outChannels);
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
