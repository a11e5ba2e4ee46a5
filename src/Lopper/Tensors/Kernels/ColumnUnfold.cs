namespace Lopper.Tensors.Kernels;

/// <summary>im2col restricted to a list of rows (kept kernel columns), and its transpose.</summary>
public static unsafe class ColumnUnfold
{
    /// <summary>Writes, for each listed row r = c*kh*kw + ky*kw + kx, that row of the column matrix (in list order).</summary>
    public static void Unfold(float* image, int channels, int h, int w, int kh, int kw, int stride, int pad, int outH, int outW, ReadOnlySpan<int> rows, float* cols)
    {
        int plane = outH * outW;
        for (int j = 0; j < rows.Length; j++)
        {
            int r = rows[j], c = r / (kh * kw), ky = r / kw % kh, kx = r % kw;
            float* dst = cols + (long)j * plane;
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

    /// <summary>Adds listed rows of a column matrix back into an image gradient (transpose of <see cref="Unfold"/>).</summary>
    public static void FoldAdd(float* cols, int channels, int h, int w, int kh, int kw, int stride, int pad, int outH, int outW, ReadOnlySpan<int> rows, float* image)
    {
        int plane = outH * outW;
        for (int j = 0; j < rows.Length; j++)
        {
            int r = rows[j], c = r / (kh * kw), ky = r / kw % kh, kx = r % kw;
            float* src = cols + (long)j * plane;
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
