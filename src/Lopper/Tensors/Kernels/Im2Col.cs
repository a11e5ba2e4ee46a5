namespace Lopper.Tensors.Kernels;

/// <summary>
/// Unfolds one image (C x H x W) into columns for convolution as GEMM: row (c*kh*kw + ky*kw + kx),
/// column (oy*outW + ox). Out-of-image taps read as zero.
/// </summary>
public static unsafe class Im2Col
{
    /// <summary>Writes the [C*kh*kw, outH*outW] column matrix of one image.</summary>
    public static void Unfold(float* image, int channels, int h, int w, int kh, int kw,
        int stride, int pad, int outH, int outW, float* cols)
    {
        int plane = outH * outW;
        for (int c = 0; c < channels; c++)
        for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++)
        {
            float* dst = cols + (long)((c * kh + ky) * kw + kx) * plane;
            float* src = image + (long)c * h * w;
            for (int oy = 0; oy < outH; oy++)
            {
                int iy = oy * stride - pad + ky;
                float* drow = dst + oy * outW;
                if ((uint)iy >= (uint)h) { new Span<float>(drow, outW).Clear(); continue; }
                float* srow = src + iy * w;
                for (int ox = 0; ox < outW; ox++)
                {
                    int ix = ox * stride - pad + kx;
                    drow[ox] = (uint)ix < (uint)w ? srow[ix] : 0f;
                }
            }
        }
    }

    /// <summary>Adds the column matrix back into an image gradient (the transpose of <see cref="Unfold"/>).</summary>
    public static void FoldAdd(float* cols, int channels, int h, int w, int kh, int kw,
        int stride, int pad, int outH, int outW, float* image)
    {
        int plane = outH * outW;
        for (int c = 0; c < channels; c++)
        for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++)
        {
            float* src = cols + (long)((c * kh + ky) * kw + kx) * plane;
            float* dst = image + (long)c * h * w;
            for (int oy = 0; oy < outH; oy++)
            {
                int iy = oy * stride - pad + ky;
                if ((uint)iy >= (uint)h) continue;
                float* srow = src + oy * outW;
                float* drow = dst + iy * w;
                for (int ox = 0; ox < outW; ox++)
                {
                    int ix = ox * stride - pad + kx;
                    if ((uint)ix < (uint)w) drow[ix] += srow[ox];
                }
            }
        }
    }
}
