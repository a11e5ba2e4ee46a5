using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// Shape of an NCHW depthwise convolution: <see cref="Channels"/> input channels, each convolved on its own
/// with <see cref="Multiplier"/> square kernels, so output channel k reads input channel k / multiplier.
/// Padding is the same on all four sides.
/// </summary>
public readonly record struct DepthwiseGeometry(int Batch, int Channels, int Multiplier, int Height, int Width,
    int Kernel, int Stride = 1, int Padding = 0, int Dilation = 1)
{
    /// <summary>Channels * multiplier.</summary>
    public int OutChannels => Channels * Multiplier;
    /// <summary>(H + 2 pad - dilation (k - 1) - 1) / stride + 1.</summary>
    public int OutHeight => (Height + 2 * Padding - Dilation * (Kernel - 1) - 1) / Stride + 1;
    /// <summary>(W + 2 pad - dilation (k - 1) - 1) / stride + 1.</summary>
    public int OutWidth => (Width + 2 * Padding - Dilation * (Kernel - 1) - 1) / Stride + 1;
    /// <summary>Input floats: N * C * H * W.</summary>
    public long InputLength => (long)Batch * Channels * Height * Width;
    /// <summary>Output floats: N * C * m * OH * OW.</summary>
    public long OutputLength => (long)Batch * OutChannels * OutHeight * OutWidth;
    /// <summary>Weight floats: C * m * k * k (a [C*m, 1, k, k] tensor).</summary>
    public int WeightLength => OutChannels * Kernel * Kernel;

    /// <summary>The fields only: the derived sizes are undefined for an invalid geometry, which error messages print.</summary>
    public override string ToString() =>
        $"[{Batch},{Channels},{Height},{Width}] x{Multiplier} kernel {Kernel} stride {Stride} padding {Padding} dilation {Dilation}";

    /// <summary>Throws <see cref="LopperInputException"/> naming the first impossible value.</summary>
    public void Validate()
    {
        if (Batch < 1 || Channels < 1 || Multiplier < 1 || Height < 1 || Width < 1)
            throw new LopperInputException($"depthwise convolution: batch, channels, multiplier, height and width must be positive, got {this}");
        if (Kernel < 1 || Stride < 1 || Dilation < 1 || Padding < 0)
            throw new LopperInputException($"depthwise convolution: kernel, stride and dilation must be positive and padding non-negative, got {this}");
        long span = (long)Dilation * (Kernel - 1) + 1;
        if (Height + 2L * Padding < span || Width + 2L * Padding < span)
            throw new LopperInputException($"depthwise convolution: input {Height}x{Width} with padding {Padding} is smaller than the dilated kernel ({span})");
        if (OutputLength > int.MaxValue || InputLength > int.MaxValue)
            throw new LopperInputException($"depthwise convolution: tensors too large for {this}");
    }
}

/// <summary>
/// Depthwise convolution (groups == input channels) forward, input gradient and weight/bias gradient, one
/// (image, channel) plane at a time: it is memory-bound (k*k MACs per output), so the point is to read each
/// plane once and keep everything else in L1, not to form a GEMM.
/// </summary>
/// <remarks>
/// Each input plane is copied into its zero-padded, stride-phase-split form: for stride s, padded element
/// (R, C) goes to phase (R % s, C % s) at (R / s, C / s) of a row pitch Wq = ceil((W + 2 pad) / s). Tap
/// (ky, kx) of output (oy, ox) is then element (oy + ky d / s, ox + kx d / s) of phase (ky d % s, kx d % s),
/// so with outputs laid out at the same pitch ("wide" rows, Wq - OW junk columns each) every tap is one
/// constant offset and a whole plane is a single flat SIMD loop with the k*k sums in a register, whatever
/// the stride, dilation, padding or plane size (a 4x4 plane still fills vectors). Padding and borders need no
/// special code: they are zeros in the copy. The input gradient is the same loop run the other way (each
/// phase gathers from the wide output gradient at negated offsets; the junk columns are kept at zero), and
/// the weight gradient is one dot product per tap between the wide output gradient and the shifted phase.
/// Scratch is rented once per parallel chunk and zeroed once, since every plane then writes the same
/// positions and leaves the padding zero.
/// </remarks>
public static class DepthwiseConv
{
    // Slack after every scratch plane so the last vector of a flat loop may run past its end.
    private const int Slack = 16;

    /// <summary>Set by tests to exercise the scalar loops on SIMD hardware.</summary>
    public static bool ForceScalar { get; set; }

    // Offsets and sizes shared by every plane of one call.
    private sealed class Layout
    {
        public readonly int S, Wq, Hq, PhaseArea, PhaseStride, Wide, MaxShift, DyStride, Phases, Taps;
        public readonly int[] TapOffset;   // phase base + shift, per tap (ky * k + kx)
        public readonly int[] TapShift;    // shift within the phase, per tap
        public readonly int[] TapPhase;

        public Layout(in DepthwiseGeometry g)
        {
            S = g.Stride;
            Wq = (g.Width + 2 * g.Padding + S - 1) / S;
            Hq = (g.Height + 2 * g.Padding + S - 1) / S;
            PhaseArea = Hq * Wq;
            // Reads of the last wide row's taps end within one phase row past the area (OH + ky d / s <= Hq).
            PhaseStride = PhaseArea + Wq + Slack;
            Phases = S * S;
            Wide = g.OutHeight * Wq;
            Taps = g.Kernel * g.Kernel;
            TapOffset = new int[Taps];
            TapShift = new int[Taps];
            TapPhase = new int[Taps];
            for (int ky = 0; ky < g.Kernel; ky++)
                for (int kx = 0; kx < g.Kernel; kx++)
                {
                    int t = ky * g.Kernel + kx, ry = ky * g.Dilation, rx = kx * g.Dilation;
                    TapPhase[t] = ry % S * S + rx % S;
                    TapShift[t] = ry / S * Wq + rx / S;
                    TapOffset[t] = TapPhase[t] * PhaseStride + TapShift[t];
                    MaxShift = Math.Max(MaxShift, TapShift[t]);
                }
            // The wide output gradient sits after a zero margin of MaxShift, so gathers at negated offsets stay inside.
            DyStride = MaxShift + PhaseArea + Wq + Slack;
        }

        public int PhasedLength => Phases * PhaseStride;
    }

    /// <summary>
    /// y[n, k] = bias[k] + sum over taps of w[k, 0, ky, kx] * x[n, k / m] at the tap's position (zero outside).
    /// <paramref name="bias"/> empty: none. Shapes: x [N, C, H, W], w [C*m, 1, k, k], y [N, C*m, OH, OW].
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, in DepthwiseGeometry g)
    {
        CheckLengths(g, x.Length, w.Length, y.Length, "y");
        if (!bias.IsEmpty && bias.Length != g.OutChannels) throw new ArgumentException($"bias has {bias.Length} values, expected {g.OutChannels}");
        var lay = new Layout(g);
        var geo = g;
        // Spans cannot enter the lambda; the arrays behind them can (these are whole tensors or their slices).
        unsafe
        {
            fixed (float* xp = x, wp = w, bp = bias, yp = y)
            {
                nint xa = (nint)xp, wa = (nint)wp, ba = bias.IsEmpty ? 0 : (nint)bp, ya = (nint)yp;
                ForUnits(g.Batch * g.Channels, lay.PhasedLength + lay.Wide + Slack, (u, scratch) =>
                    ForwardPlane(u, (float*)xa, (float*)wa, (float*)ba, (float*)ya, geo, lay, scratch));
            }
        }
    }

    private static unsafe void ForwardPlane(int unit, float* x, float* w, float* bias, float* y, in DepthwiseGeometry g, Layout lay, float[] scratch)
    {
        int c = unit % g.Channels, n = unit / g.Channels, m = g.Multiplier, hw = g.Height * g.Width;
        int oh = g.OutHeight, ow = g.OutWidth, ohw = oh * ow;
        ref float phased = ref MemoryMarshal.GetArrayDataReference(scratch);
        ref float wide = ref Unsafe.Add(ref phased, lay.PhasedLength);
        Split(new ReadOnlySpan<float>(x + (long)unit * hw, hw), ref phased, g, lay);
        for (int j = 0; j < m; j++)
        {
            int k = c * m + j;
            float b0 = bias == null ? 0f : bias[k];
            Correlate(ref phased, lay.TapOffset, new ReadOnlySpan<float>(w + (long)k * lay.Taps, lay.Taps), b0, ref wide, lay.Wide);
            float* yk = y + ((long)n * g.OutChannels + k) * ohw;
            for (int oy = 0; oy < oh; oy++)
                MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref wide, oy * lay.Wq), ow).CopyTo(new Span<float>(yk + oy * ow, ow));
        }
    }

    /// <summary>
    /// dx = the input gradient of <see cref="Forward"/> for output gradient <paramref name="dy"/> (written, not added).
    /// </summary>
    public static void InputGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> w, Span<float> dx, in DepthwiseGeometry g)
    {
        CheckLengths(g, dx.Length, w.Length, dy.Length, "dy");
        var lay = new Layout(g);
        int m = g.Multiplier;
        // Per phase, the gather list: (output channel j of the input channel, tap) pairs at negated offsets into
        // m wide output-gradient planes; the weights are reordered to match once per call.
        var starts = new int[lay.Phases + 1];
        for (int t = 0; t < lay.Taps; t++) starts[lay.TapPhase[t] + 1] += m;
        for (int p = 0; p < lay.Phases; p++) starts[p + 1] += starts[p];
        var offsets = new int[lay.Taps * m];
        var order = new int[lay.Taps * m];   // entry e: j * taps + t
        var fill = (int[])starts.Clone();
        for (int t = 0; t < lay.Taps; t++)
            for (int j = 0; j < m; j++)
            {
                int e = fill[lay.TapPhase[t]]++;
                offsets[e] = j * lay.DyStride + lay.MaxShift - lay.TapShift[t];
                order[e] = j * lay.Taps + t;
            }
        var geo = g;
        unsafe
        {
            fixed (float* dyp = dy, wp = w, dxp = dx)
            {
                nint dya = (nint)dyp, wa = (nint)wp, dxa = (nint)dxp;
                int weights = m * lay.Taps;
                ForUnits(g.Batch * g.Channels, m * lay.DyStride + lay.PhasedLength + weights, (u, scratch) =>
                    InputGradientPlane(u, (float*)dya, (float*)wa, (float*)dxa, geo, lay, starts, offsets, order, scratch));
            }
        }
    }

    private static unsafe void InputGradientPlane(int unit, float* dy, float* w, float* dx, in DepthwiseGeometry g, Layout lay,
        int[] starts, int[] offsets, int[] order, float[] scratch)
    {
        int c = unit % g.Channels, n = unit / g.Channels, m = g.Multiplier;
        int oh = g.OutHeight, ow = g.OutWidth, ohw = oh * ow, hw = g.Height * g.Width, entries = order.Length;
        ref float dyw = ref MemoryMarshal.GetArrayDataReference(scratch);
        ref float phased = ref Unsafe.Add(ref dyw, m * lay.DyStride);
        var wsorted = scratch.AsSpan(m * lay.DyStride + lay.PhasedLength, entries);
        float* wc = w + (long)c * m * lay.Taps;
        for (int e = 0; e < entries; e++) wsorted[e] = wc[order[e]];
        for (int j = 0; j < m; j++)
        {
            float* src = dy + ((long)n * g.OutChannels + c * m + j) * ohw;
            ref float dst = ref Unsafe.Add(ref dyw, j * lay.DyStride + lay.MaxShift);
            for (int oy = 0; oy < oh; oy++)
                new ReadOnlySpan<float>(src + oy * ow, ow).CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref dst, oy * lay.Wq), ow));
        }
        for (int p = 0; p < lay.Phases; p++)
        {
            int e0 = starts[p], e1 = starts[p + 1];
            // A phase no tap reads (stride above the kernel span) stays zero from the scratch's first clearing.
            if (e0 == e1) continue;
            Correlate(ref dyw, offsets.AsSpan(e0, e1 - e0), wsorted[e0..e1], 0f, ref Unsafe.Add(ref phased, p * lay.PhaseStride), lay.PhaseArea);
        }
        Merge(ref phased, new Span<float>(dx + (long)unit * hw, hw), g, lay);
    }

    /// <summary>
    /// dw (and db when not empty) = the weight and bias gradients of <see cref="Forward"/>, summed over the batch
    /// (written, not added). Parallel over input channels, each summing its images in order: deterministic.
    /// </summary>
    public static void WeightGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dw, Span<float> db, in DepthwiseGeometry g)
    {
        CheckLengths(g, x.Length, dw.Length, dy.Length, "dy");
        if (!db.IsEmpty && db.Length != g.OutChannels) throw new ArgumentException($"bias gradient has {db.Length} values, expected {g.OutChannels}");
        var lay = new Layout(g);
        var geo = g;
        unsafe
        {
            fixed (float* xp = x, dyp = dy, dwp = dw, dbp = db)
            {
                nint xa = (nint)xp, dya = (nint)dyp, dwa = (nint)dwp, dba = db.IsEmpty ? 0 : (nint)dbp;
                ForUnits(g.Channels, lay.PhasedLength + lay.DyStride, (c, scratch) =>
                    WeightGradientChannel(c, (float*)xa, (float*)dya, (float*)dwa, (float*)dba, geo, lay, scratch));
            }
        }
    }

    private static unsafe void WeightGradientChannel(int c, float* x, float* dy, float* dw, float* db, in DepthwiseGeometry g, Layout lay, float[] scratch)
    {
        int m = g.Multiplier, oh = g.OutHeight, ow = g.OutWidth, ohw = oh * ow, hw = g.Height * g.Width;
        ref float phased = ref MemoryMarshal.GetArrayDataReference(scratch);
        var wide = scratch.AsSpan(lay.PhasedLength, lay.Wide);
        var dwc = new Span<float>(dw + (long)c * m * lay.Taps, m * lay.Taps);
        dwc.Clear();
        if (db != null) new Span<float>(db + c * m, m).Clear();
        for (int n = 0; n < g.Batch; n++)
        {
            Split(new ReadOnlySpan<float>(x + ((long)n * g.Channels + c) * hw, hw), ref phased, g, lay);
            for (int j = 0; j < m; j++)
            {
                int k = c * m + j;
                var src = new ReadOnlySpan<float>(dy + ((long)n * g.OutChannels + k) * ohw, ohw);
                // Junk columns stay zero (cleared once with the scratch), so they add nothing to the dot products.
                for (int oy = 0; oy < oh; oy++) src.Slice(oy * ow, ow).CopyTo(wide.Slice(oy * lay.Wq, ow));
                TapDots(wide, ref phased, lay.TapOffset, dwc.Slice(j * lay.Taps, lay.Taps));
                if (db != null) db[k] += TensorPrimitives.Sum(src);
            }
        }
    }

    private static void CheckLengths(in DepthwiseGeometry g, int xLength, int wLength, int yLength, string yName)
    {
        g.Validate();
        if (xLength != g.InputLength) throw new ArgumentException($"input has {xLength} values, expected {g.InputLength} for {g}");
        if (wLength != g.WeightLength) throw new ArgumentException($"weight has {wLength} values, expected {g.WeightLength} for {g}");
        if (yLength != g.OutputLength) throw new ArgumentException($"{yName} has {yLength} values, expected {g.OutputLength} for {g}");
    }

    // Runs body(unit, scratch) for every unit, in a few contiguous runs per thread; each run rents and zeroes
    // its scratch once.
    private static void ForUnits(int units, int scratchLength, Action<int, float[]> body)
    {
        int chunks = Math.Min(units, Parallelism.Threads * 4);
        Parallelism.For(chunks, ch =>
        {
            int u0 = (int)((long)units * ch / chunks), u1 = (int)((long)units * (ch + 1) / chunks);
            var scratch = BufferPool.RentZeroed(scratchLength);
            try
            {
                for (int u = u0; u < u1; u++) body(u, scratch);
            }
            finally { BufferPool.Return(scratch); }
        });
    }

    // Copies one input plane into the padded phase layout (positions of padding are never written).
    private static void Split(ReadOnlySpan<float> plane, ref float phased, in DepthwiseGeometry g, Layout lay)
    {
        int s = lay.S, p = g.Padding, w = g.Width;
        for (int iy = 0; iy < g.Height; iy++)
        {
            int r = iy + p;
            var row = plane.Slice(iy * w, w);
            ref float dst = ref Unsafe.Add(ref phased, r % s * s * lay.PhaseStride + r / s * lay.Wq);
            if (s == 1)
                row.CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref dst, p), w));
            else if (s == 2)
                Deinterleave(row, ref dst, lay.PhaseStride, p);
            else
                for (int ix = 0; ix < w; ix++)
                {
                    int col = ix + p;
                    Unsafe.Add(ref dst, col % s * lay.PhaseStride + col / s) = row[ix];
                }
        }
    }

    // The inverse of Split: reads the unpadded positions of the phase layout back into a plane.
    private static void Merge(ref float phased, Span<float> plane, in DepthwiseGeometry g, Layout lay)
    {
        int s = lay.S, p = g.Padding, w = g.Width;
        for (int iy = 0; iy < g.Height; iy++)
        {
            int r = iy + p;
            var row = plane.Slice(iy * w, w);
            ref float src = ref Unsafe.Add(ref phased, r % s * s * lay.PhaseStride + r / s * lay.Wq);
            if (s == 1)
                MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref src, p), w).CopyTo(row);
            else if (s == 2)
                Interleave(ref src, lay.PhaseStride, p, row);
            else
                for (int ix = 0; ix < w; ix++)
                {
                    int col = ix + p;
                    row[ix] = Unsafe.Add(ref src, col % s * lay.PhaseStride + col / s);
                }
        }
    }

    private static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> OddLanes = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    private static readonly Vector512<int> LowZip = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> HighZip = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

    // Stride 2: padded column col = ix + pad goes to phase col % 2 at col / 2.
    private static void Deinterleave(ReadOnlySpan<float> row, ref float dst, int phaseStride, int pad)
    {
        int w = row.Length, ix = 0;
        // Start on an even padded column so that lane pairs split into (phase 0, phase 1).
        if ((pad & 1) == 1 && w > 0)
        {
            Unsafe.Add(ref dst, phaseStride + pad / 2) = row[0];
            ix = 1;
        }
        ref float src = ref MemoryMarshal.GetReference(row);
        if (Avx512F.IsSupported && !ForceScalar)
            for (; ix <= w - 32; ix += 32)
            {
                var a = Vector512.LoadUnsafe(ref src, (nuint)ix);
                var b = Vector512.LoadUnsafe(ref src, (nuint)(ix + 16));
                int q = (ix + pad) / 2;
                Avx512F.PermuteVar16x32x2(a, EvenLanes, b).StoreUnsafe(ref dst, (nuint)q);
                Avx512F.PermuteVar16x32x2(a, OddLanes, b).StoreUnsafe(ref dst, (nuint)(phaseStride + q));
            }
        for (; ix < w; ix++)
        {
            int col = ix + pad;
            Unsafe.Add(ref dst, (col & 1) * phaseStride + (col >> 1)) = Unsafe.Add(ref src, ix);
        }
    }

    private static void Interleave(ref float src, int phaseStride, int pad, Span<float> row)
    {
        int w = row.Length, ix = 0;
        if ((pad & 1) == 1 && w > 0)
        {
            row[0] = Unsafe.Add(ref src, phaseStride + pad / 2);
            ix = 1;
        }
        ref float dst = ref MemoryMarshal.GetReference(row);
        if (Avx512F.IsSupported && !ForceScalar)
            for (; ix <= w - 32; ix += 32)
            {
                int q = (ix + pad) / 2;
                var even = Vector512.LoadUnsafe(ref src, (nuint)q);
                var odd = Vector512.LoadUnsafe(ref src, (nuint)(phaseStride + q));
                Avx512F.PermuteVar16x32x2(even, LowZip, odd).StoreUnsafe(ref dst, (nuint)ix);
                Avx512F.PermuteVar16x32x2(even, HighZip, odd).StoreUnsafe(ref dst, (nuint)(ix + 16));
            }
        for (; ix < w; ix++)
        {
            int col = ix + pad;
            Unsafe.Add(ref dst, ix) = Unsafe.Add(ref src, (col & 1) * phaseStride + (col >> 1));
        }
    }

    /// <summary>
    /// dst[i] = init + sum over e of w[e] * src[offsets[e] + i] for i in [0, len). The vector loops may compute
    /// up to one vector past len (the layouts leave that slack), so every plane is one flat loop.
    /// </summary>
    private static void Correlate(ref float src, ReadOnlySpan<int> offsets, ReadOnlySpan<float> w, float init, ref float dst, int len)
    {
        int taps = offsets.Length, i = 0;
        ref int or = ref MemoryMarshal.GetReference(offsets);
        ref float wr = ref MemoryMarshal.GetReference(w);
        if (Vector512.IsHardwareAccelerated && !ForceScalar)
        {
            if (taps == 9)
            {
                Correlate9(ref src, offsets, w, init, ref dst, len);
                return;
            }
            var b = Vector512.Create(init);
            for (; i < len; i += 16)
            {
                var acc = b;
                for (int e = 0; e < taps; e++)
                    acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref src, (nuint)(Unsafe.Add(ref or, e) + i)), Vector512.Create(Unsafe.Add(ref wr, e)), acc);
                acc.StoreUnsafe(ref dst, (nuint)i);
            }
            return;
        }
        if (Vector256.IsHardwareAccelerated && !ForceScalar)
        {
            var b = Vector256.Create(init);
            for (; i < len; i += 8)
            {
                var acc = b;
                for (int e = 0; e < taps; e++)
                    acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref src, (nuint)(Unsafe.Add(ref or, e) + i)), Vector256.Create(Unsafe.Add(ref wr, e)), acc);
                acc.StoreUnsafe(ref dst, (nuint)i);
            }
            return;
        }
        for (; i < len; i++)
        {
            float acc = init;
            for (int e = 0; e < taps; e++) acc = MathF.FusedMultiplyAdd(Unsafe.Add(ref src, Unsafe.Add(ref or, e) + i), Unsafe.Add(ref wr, e), acc);
            Unsafe.Add(ref dst, i) = acc;
        }
    }

    // The 3x3 case with the nine weights and offsets in registers, two vectors per iteration.
    private static void Correlate9(ref float src, ReadOnlySpan<int> o, ReadOnlySpan<float> w, float init, ref float dst, int len)
    {
        nuint o0 = (nuint)o[0], o1 = (nuint)o[1], o2 = (nuint)o[2], o3 = (nuint)o[3], o4 = (nuint)o[4], o5 = (nuint)o[5], o6 = (nuint)o[6], o7 = (nuint)o[7], o8 = (nuint)o[8];
        Vector512<float> w0 = Vector512.Create(w[0]), w1 = Vector512.Create(w[1]), w2 = Vector512.Create(w[2]), w3 = Vector512.Create(w[3]),
            w4 = Vector512.Create(w[4]), w5 = Vector512.Create(w[5]), w6 = Vector512.Create(w[6]), w7 = Vector512.Create(w[7]), w8 = Vector512.Create(w[8]);
        var b = Vector512.Create(init);
        for (int i = 0; i < len; i += 16)
        {
            ref float s = ref Unsafe.Add(ref src, i);
            var a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref s, o0), w0, b);
            var c = Vector512.Multiply(Vector512.LoadUnsafe(ref s, o1), w1);
            a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref s, o2), w2, a);
            c = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref s, o3), w3, c);
            a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref s, o4), w4, a);
            c = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref s, o5), w5, c);
            a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref s, o6), w6, a);
            c = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref s, o7), w7, c);
            a = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref s, o8), w8, a);
            (a + c).StoreUnsafe(ref dst, (nuint)i);
        }
    }

    // dw[t] += sum over the wide plane of dy * phased[offset t + i], the junk columns of dy being zero.
    private static void TapDots(ReadOnlySpan<float> wide, ref float phased, int[] offsets, Span<float> dw)
    {
        for (int t = 0; t < offsets.Length; t++)
            dw[t] += TensorPrimitives.Dot(wide, MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref phased, offsets[t]), wide.Length));
    }
}
