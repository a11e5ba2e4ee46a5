using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// Unfolds one image (C x H x W) into columns for convolution as GEMM: row (c*kh*kw + ky*kw + kx),
/// column (oy*outW + ox). Out-of-image taps read as zero.
/// </summary>
/// <remarks>
/// Each row is one kernel tap shifted over the image. For a tap, the output positions that land inside the
/// image form one rectangle [oyLo, oyHi) x [oxLo, oxHi), the same for every channel; everything outside it
/// is padding. So a row is a few clears plus, per output row, one contiguous copy (stride 1) or one strided
/// gather, never a per-element bounds test. With stride 1 and full-width rows the copies merge into one
/// block; rows of at most 16 are built with masked vector loads.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class Im2Col
{
    /// <summary>
    /// Writes the [C*kh*kw, outH*outW] column matrix of one image, rows <paramref name="ld"/> floats apart
    /// (0: packed, outH*outW), so several images can sit side by side in one wider matrix.
    /// </summary>
    public static void Unfold(float* image, int channels, int h, int w, int kh, int kw,
        int stride, int pad, int outH, int outW, float* cols, long ld = 0)
        => Unfold(image, channels, h, w, kh, kw, stride, pad, pad, outH, outW, cols, ld);

    /// <summary><see cref="Unfold(float*, int, int, int, int, int, int, int, int, int, float*, long)"/> with its own padding per axis (rectangular kernels).</summary>
    public static void Unfold(float* image, int channels, int h, int w, int kh, int kw,
        int stride, int padY, int padX, int outH, int outW, float* cols, long ld = 0)
    {
        long pitch = ld > 0 ? ld : (long)outH * outW, rowStep = kh * kw * pitch;
        for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++)
        {
            var tap = new Tap(ky, kx, h, w, stride, padY, padX, outH, outW);
            UnfoldTap(tap, image, (long)h * w, cols + (ky * kw + kx) * pitch, rowStep, channels, w, stride, outH, outW);
        }
    }

    /// <summary>
    /// Adds the column matrix back into an image gradient (the transpose of <c>Unfold</c>). The entries
    /// of <paramref name="cols"/> for taps outside the image are scratch: they may be set to zero. Rows are
    /// <paramref name="ld"/> floats apart (0: packed), as in <c>Unfold</c>.
    /// </summary>
    public static void FoldAdd(float* cols, int channels, int h, int w, int kh, int kw,
        int stride, int pad, int outH, int outW, float* image, long ld = 0)
        => FoldAdd(cols, channels, h, w, kh, kw, stride, pad, pad, outH, outW, image, ld);

    /// <summary><see cref="FoldAdd(float*, int, int, int, int, int, int, int, int, int, float*, long)"/> with its own padding per axis.</summary>
    public static void FoldAdd(float* cols, int channels, int h, int w, int kh, int kw,
        int stride, int padY, int padX, int outH, int outW, float* image, long ld = 0)
    {
        long pitch = ld > 0 ? ld : (long)outH * outW, rowStep = kh * kw * pitch;
        for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++)
        {
            var tap = new Tap(ky, kx, h, w, stride, padY, padX, outH, outW);
            FoldTap(tap, cols + (ky * kw + kx) * pitch, rowStep, image, (long)h * w, channels, w, stride, outW);
        }
    }

    /// <summary>
    /// Writes only the listed rows of the <c>Unfold</c> matrix, in the given order: row t of
    /// <paramref name="cols"/> (outH*outW floats) is full-matrix row <c>keptRows[t]</c>, where full row
    /// r = c*kh*kw + ky*kw + kx. Used by convolutions that keep only some kernel taps.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A listed row is outside [0, channels*kh*kw).</exception>
    public static void UnfoldColumns(float* image, int channels, int h, int w, int kh, int kw,
        int stride, int pad, int outH, int outW, ReadOnlySpan<int> keptRows, float* cols, long ld = 0)
        => UnfoldColumns(image, channels, h, w, kh, kw, stride, pad, pad, outH, outW, keptRows, cols, ld);

    /// <summary><see cref="UnfoldColumns(float*, int, int, int, int, int, int, int, int, int, ReadOnlySpan{int}, float*, long)"/> with its own padding per axis.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A listed row is outside [0, channels*kh*kw).</exception>
    public static void UnfoldColumns(float* image, int channels, int h, int w, int kh, int kw,
        int stride, int padY, int padX, int outH, int outW, ReadOnlySpan<int> keptRows, float* cols, long ld = 0)
    {
        long pitch = ld > 0 ? ld : (long)outH * outW;
        int taps = kh * kw, rows = channels * taps;
        for (int t = 0; t < keptRows.Length; t++)
        {
            int r = keptRows[t];
            if ((uint)r >= (uint)rows) throw new ArgumentOutOfRangeException(nameof(keptRows), $"row {r} is outside [0, {rows})");
            int c = r / taps, k = r - c * taps, ky = k / kw, kx = k - ky * kw;
            var tap = new Tap(ky, kx, h, w, stride, padY, padX, outH, outW);
            UnfoldTap(tap, image + (long)c * h * w, 0, cols + t * pitch, 0, 1, w, stride, outH, outW);
        }
    }

    /// <summary>
    /// Transpose of <c>UnfoldColumns</c>: adds row t of <paramref name="cols"/> into the image taps of
    /// full-matrix row <c>keptRows[t]</c>. As there, entries of <paramref name="cols"/> for taps outside the
    /// image may be set to zero.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A listed row is outside [0, channels*kh*kw).</exception>
    public static void FoldAddColumns(float* cols, int channels, int h, int w, int kh, int kw,
        int stride, int pad, int outH, int outW, ReadOnlySpan<int> keptRows, float* image, long ld = 0)
        => FoldAddColumns(cols, channels, h, w, kh, kw, stride, pad, pad, outH, outW, keptRows, image, ld);

    /// <summary><see cref="FoldAddColumns(float*, int, int, int, int, int, int, int, int, int, ReadOnlySpan{int}, float*, long)"/> with its own padding per axis.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A listed row is outside [0, channels*kh*kw).</exception>
    public static void FoldAddColumns(float* cols, int channels, int h, int w, int kh, int kw,
        int stride, int padY, int padX, int outH, int outW, ReadOnlySpan<int> keptRows, float* image, long ld = 0)
    {
        long pitch = ld > 0 ? ld : (long)outH * outW;
        int taps = kh * kw, rows = channels * taps;
        for (int t = 0; t < keptRows.Length; t++)
        {
            int r = keptRows[t];
            if ((uint)r >= (uint)rows) throw new ArgumentOutOfRangeException(nameof(keptRows), $"row {r} is outside [0, {rows})");
            int c = r / taps, k = r - c * taps, ky = k / kw, kx = k - ky * kw;
            var tap = new Tap(ky, kx, h, w, stride, padY, padX, outH, outW);
            FoldTap(tap, cols + t * pitch, 0, image + (long)c * h * w, 0, 1, w, stride, outW);
        }
    }

    // Where one kernel tap lands: input (oy*stride + Y0, ox*stride + X0) is inside the image exactly for
    // oy in [OyLo, OyHi) and ox in [OxLo, OxHi). The same for every channel, so it is worked out once.
    private readonly struct Tap
    {
        public readonly int Y0, X0, OyLo, OyHi, OxLo, OxHi;

        public Tap(int ky, int kx, int h, int w, int stride, int padY, int padX, int outH, int outW)
        {
            Y0 = ky - padY;
            X0 = kx - padX;
            (OyLo, OyHi) = ValidRange(Y0, h, stride, outH);
            (OxLo, OxHi) = ValidRange(X0, w, stride, outW);
        }

        private static (int Lo, int Hi) ValidRange(int offset, int size, int stride, int outSize)
        {
            int lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
            int hi = offset >= size ? 0 : (size - 1 - offset) / stride + 1;
            hi = Math.Min(hi, outSize);
            return (Math.Min(lo, hi), hi);
        }
    }

    // One tap for count channels: channel i reads the plane at src + i*srcStep and writes the column-matrix
    // row at dst + i*dstStep. The choice of loop is made once per tap, not per channel.
    private static void UnfoldTap(in Tap t, float* src, long srcStep, float* dst, long dstStep, int count,
        int w, int stride, int outH, int outW)
    {
        int oyLo = t.OyLo, oyHi = t.OyHi, oxLo = t.OxLo, oxHi = t.OxHi, y0 = t.Y0, x0 = t.X0;
        long plane = (long)outH * outW;
        if (oyLo == oyHi || oxLo == oxHi)
        {
            for (int i = 0; i < count; i++) Clear(dst + i * dstStep, plane);
            return;
        }
        if (stride == 1 && outW == w && outW > 16)
        {
            // Same pitch on both sides ("same" convolutions): output o reads input o + shift, so the valid
            // taps of all rows are one block copy; the few entries it takes from the neighbouring rows (the
            // left and right padding columns) are then zeroed, two or so per row instead of a copy per row.
            long first = (long)oyLo * outW + oxLo, end = (long)(oyHi - 1) * outW + oxHi, shift = (long)y0 * w + x0;
            int gap = outW - oxHi + oxLo;
            for (int i = 0; i < count; i++, src += srcStep, dst += dstStep)
            {
                Clear(dst, first);
                Copy(src + first + shift, dst + first, end - first);
                Clear(dst + end, plane - end);
                if (gap > 0)
                    for (long g = (long)oyLo * outW + oxHi; g < end; g += outW)
                        for (int j = 0; j < gap; j++) dst[g + j] = 0f;
            }
            return;
        }
        if (stride == 1 && oxLo == 0 && oxHi == outW && outW == w)
        {
            // Full-width rows with the same pitch on both sides: the valid rows are one block.
            long n = (long)(oyHi - oyLo) * w;
            for (int i = 0; i < count; i++, src += srcStep, dst += dstStep)
            {
                Clear(dst, (long)oyLo * outW);
                Copy(src + (long)(oyLo + y0) * w + x0, dst + (long)oyLo * outW, n);
                Clear(dst + (long)oyHi * outW, (long)(outH - oyHi) * outW);
            }
            return;
        }
        if (stride == 1 && outW <= 16 && Avx2.IsSupported)
        {
            for (int i = 0; i < count; i++, src += srcStep, dst += dstStep)
                UnfoldNarrow(src, w, y0, x0, oyLo, oyHi, oxLo, oxHi, outH, outW, dst);
            return;
        }
        int width = oxHi - oxLo;
        for (int i = 0; i < count; i++, src += srcStep, dst += dstStep)
        {
            Clear(dst, (long)oyLo * outW);
            for (int oy = oyLo; oy < oyHi; oy++)
            {
                float* drow = dst + (long)oy * outW;
                float* srow = src + (long)(oy * stride + y0) * w + x0;   // input at ox = 0 (may be before the row)
                Clear(drow, oxLo);
                if (stride == 1) Copy(srow + oxLo, drow + oxLo, width);
                else if (stride == 2) Gather2(srow + 2 * oxLo, drow + oxLo, width, w - (x0 + 2 * oxLo));
                else
                    for (int ox = oxLo; ox < oxHi; ox++) drow[ox] = srow[(long)ox * stride];
                Clear(drow + oxHi, outW - oxHi);
            }
            Clear(dst + (long)oyHi * outW, (long)(outH - oyHi) * outW);
        }
    }

    // Output rows of at most 16 (late layers, small images), where per-row calls cost more than the copy.
    // Two masked loads build a whole output row, padding included (masked lanes read nothing, so the
    // address may run off the image row). Full-vector stores spill into the next rows, which are written
    // after; only the last rows, where a spill would leave this tap's row, store exactly.
    private static void UnfoldNarrow(float* src, int w, int y0, int x0, int oyLo, int oyHi, int oxLo, int oxHi,
        int outH, int outW, float* dst)
    {
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var lo = Vector256.Create(oxLo);
        var hi = Vector256.Create(oxHi);
        var mask0 = (Vector256.GreaterThanOrEqual(lane, lo) & Vector256.LessThan(lane, hi)).AsSingle();
        lane += Vector256.Create(8);
        var mask1 = (Vector256.GreaterThanOrEqual(lane, lo) & Vector256.LessThan(lane, hi)).AsSingle();
        long plane = (long)outH * outW;
        bool two = outW > 8;
        int lanes = two ? 16 : 8;
        for (int oy = 0; oy < outH; oy++)
        {
            float* drow = dst + (long)oy * outW;
            Vector256<float> v0 = default, v1 = default;
            if (oy >= oyLo && oy < oyHi)
            {
                float* s = src + (long)(oy + y0) * w + x0;
                v0 = Avx.MaskLoad(s, mask0);
                if (two) v1 = Avx.MaskLoad(s + 8, mask1);
            }
            if ((long)oy * outW + lanes <= plane)
            {
                Avx.Store(drow, v0);
                if (two) Avx.Store(drow + 8, v1);
            }
            else
                for (int j = 0; j < outW; j++) drow[j] = j < 8 ? v0.GetElement(j) : v1.GetElement(j - 8);
        }
    }

    // Transpose of UnfoldTap: adds each channel's column-matrix row into the image taps it was read from.
    private static void FoldTap(in Tap t, float* src, long srcStep, float* dst, long dstStep, int count,
        int w, int stride, int outW)
    {
        int oyLo = t.OyLo, oyHi = t.OyHi, oxLo = t.OxLo, oxHi = t.OxHi, y0 = t.Y0, x0 = t.X0;
        if (oyLo == oyHi || oxLo == oxHi) return;
        if (stride == 1 && outW == w && outW > 16)
        {
            // The transpose of UnfoldTap's block copy: zero the padding entries of the column row (they would
            // land on the neighbouring rows' pixels), then add the whole block in one pass.
            long first = (long)oyLo * outW + oxLo, end = (long)(oyHi - 1) * outW + oxHi, shift = (long)y0 * w + x0;
            int gap = outW - oxHi + oxLo;
            for (int i = 0; i < count; i++, src += srcStep, dst += dstStep)
            {
                if (gap > 0)
                    for (long g = (long)oyLo * outW + oxHi; g < end; g += outW)
                        for (int j = 0; j < gap; j++) src[g + j] = 0f;
                AddInto(src + first, dst + first + shift, end - first);
            }
            return;
        }
        if (stride == 1 && oxLo == 0 && oxHi == outW && outW == w)
        {
            long n = (long)(oyHi - oyLo) * w;
            for (int i = 0; i < count; i++, src += srcStep, dst += dstStep)
                AddInto(src + (long)oyLo * outW, dst + (long)(oyLo + y0) * w + x0, n);
            return;
        }
        int width = oxHi - oxLo;
        for (int i = 0; i < count; i++, src += srcStep, dst += dstStep)
        {
            for (int oy = oyLo; oy < oyHi; oy++)
            {
                float* srow = src + (long)oy * outW;
                float* drow = dst + (long)(oy * stride + y0) * w + x0;
                if (stride == 1) AddInto(srow + oxLo, drow + oxLo, width);
                else if (stride == 2) Scatter2Add(srow + oxLo, drow + 2 * oxLo, width, w - (x0 + 2 * oxLo));
                else
                    for (int ox = oxLo; ox < oxHi; ox++) drow[(long)ox * stride] += srow[ox];
            }
        }
    }

    // The helpers below loop inline for short runs (7-wide rows of late layers, 1-wide pad strips),
    // where a library call costs more than the work.
    private const int Short = 16;

    private static void Clear(float* d, long n)
    {
        if (n < Short)
            for (int i = 0; i < n; i++) d[i] = 0f;
        else NativeMemory.Clear(d, (nuint)n * sizeof(float));
    }

    private static void Copy(float* s, float* d, long n)
    {
        if (n < Short)
            for (int i = 0; i < n; i++) d[i] = s[i];
        else Buffer.MemoryCopy(s, d, n * sizeof(float), n * sizeof(float));
    }

    private static void AddInto(float* s, float* d, long n)
    {
        if (n < Short)
        {
            for (int i = 0; i < n; i++) d[i] += s[i];
            return;
        }
        while (n > 0)
        {
            int len = (int)Math.Min(n, int.MaxValue);
            var dst = new Span<float>(d, len);
            TensorPrimitives.Add(dst, new ReadOnlySpan<float>(s, len), dst);
            s += len; d += len; n -= len;
        }
    }

    // d[i] = s[2i] for i < n. avail = how many floats from s on are inside the input row: a vector step
    // reads 16 of them, so it runs only while all 16 are in the row (the last may not be readable at all).
    private static void Gather2(float* s, float* d, int n, int avail)
    {
        int i = 0;
        if (Avx2.IsSupported)
        {
            for (; i + 8 <= n && 2 * i + 16 <= avail; i += 8)
            {
                var lo = Avx.LoadVector256(s + 2 * i);
                var hi = Avx.LoadVector256(s + 2 * i + 8);
                // Even lanes of each 128-bit half, then restore the order of the 64-bit pairs.
                var even = Avx.Shuffle(lo, hi, 0b10_00_10_00);
                Avx.Store(d + i, Avx2.Permute4x64(even.AsDouble(), 0b11_01_10_00).AsSingle());
            }
        }
        for (; i < n; i++) d[i] = s[2 * i];
    }

    // d[2i] += s[i] for i < n, leaving the odd positions as they are; avail as in Gather2.
    private static void Scatter2Add(float* s, float* d, int n, int avail)
    {
        int i = 0;
        if (Avx.IsSupported)
        {
            // -0 is the additive identity for every float, +0 is not (it turns -0 into +0).
            var z = Vector256.Create(-0f);
            for (; i + 8 <= n && 2 * i + 16 <= avail; i += 8)
            {
                var v = Avx.LoadVector256(s + i);
                var a = Avx.UnpackLow(v, z);    // s0 _ s1 _ | s4 _ s5 _
                var b = Avx.UnpackHigh(v, z);   // s2 _ s3 _ | s6 _ s7 _
                float* p = d + 2 * i;
                Avx.Store(p, Avx.Add(Avx.LoadVector256(p), Avx.Permute2x128(a, b, 0x20)));
                Avx.Store(p + 8, Avx.Add(Avx.LoadVector256(p + 8), Avx.Permute2x128(a, b, 0x31)));
            }
        }
        for (; i < n; i++) d[2 * i] += s[i];
    }
}
