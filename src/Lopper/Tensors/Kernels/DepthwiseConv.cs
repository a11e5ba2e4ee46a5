using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// Shape of an NCHW depthwise convolution: <see cref="Channels"/> input channels, each convolved on its own
/// with <see cref="Multiplier"/> square kernels, so output channel k reads input channel k / multiplier.
/// Padding is the same on all four sides.
/// </summary>
internal readonly record struct DepthwiseGeometry(int Batch, int Channels, int Multiplier, int Height, int Width,
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
internal static class DepthwiseConv
{
    // Slack after every scratch plane so the last vector of a flat loop may run past its end.
    private const int Slack = 16;

    // Floats of vector partial sums the 3x3 weight gradient keeps per output channel (nine taps and the bias).
    private const int TapAccumulators = 10 * 16;

    /// <summary>Set by tests to exercise the scalar loops on SIMD hardware.</summary>
    public static bool ForceScalar { get; set; }

    // Offsets and sizes shared by every plane of one call.
    private sealed class Layout
    {
        public readonly int S, Wq, Hq, PhaseArea, PhaseStride, Wide, MaxShift, DyStride, Phases, Taps;
        // The geometry's derived sizes, computed once: each costs a division, and tiny planes feel it.
        public readonly int Oh, Ow;
        public readonly int[] TapOffset;   // phase base + shift, per tap (ky * k + kx)
        public readonly int[] TapShift;    // shift within the phase, per tap
        public readonly int[] TapPhase;

        public Layout(in DepthwiseGeometry g)
        {
            S = g.Stride;
            Oh = g.OutHeight;
            Ow = g.OutWidth;
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
    public static unsafe void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, in DepthwiseGeometry g)
    {
        CheckLengths(g, x.Length, w.Length, y.Length, "y");
        if (!bias.IsEmpty && bias.Length != g.OutChannels) throw new ArgumentException($"bias has {bias.Length} values, expected {g.OutChannels}");
        var geo = g;
        if (DepthwiseSmallPlane.Applies(g))
        {
            fixed (float* xp = x, wp = w, bp = bias, yp = y)
                DepthwiseSmallPlane.Forward(xp, wp, bias.IsEmpty ? null : bp, yp, geo);
            return;
        }
        var lay = new Layout(g);
        fixed (float* xp = x, wp = w, bp = bias, yp = y)
        {
            // Pointers cannot enter a lambda; their addresses can (the spans stay pinned for the whole call).
            nint xa = (nint)xp, wa = (nint)wp, ba = bias.IsEmpty ? 0 : (nint)bp, ya = (nint)yp;
            ForUnits(g.Batch * g.Channels, lay.PhasedLength + lay.Wide + Slack, (u, scratch) =>
                ForwardPlane(u, (float*)xa, (float*)wa, (float*)ba, (float*)ya, geo, lay, scratch));
        }
    }

    private static unsafe void ForwardPlane(int unit, float* x, float* w, float* bias, float* y, in DepthwiseGeometry g, Layout lay, float* scratch)
    {
        int c = unit % g.Channels, n = unit / g.Channels, m = g.Multiplier, hw = g.Height * g.Width;
        int oh = lay.Oh, ow = lay.Ow, ohw = oh * ow;
        float* phased = scratch, wide = scratch + lay.PhasedLength;
        Split(x + (long)unit * hw, phased, g, lay);
        for (int j = 0; j < m; j++)
        {
            int k = c * m + j;
            float b0 = bias == null ? 0f : bias[k];
            Correlate(phased, lay.TapOffset, w + (long)k * lay.Taps, b0, wide, lay.Wide);
            float* yk = y + ((long)n * g.OutChannels + k) * ohw;
            for (int oy = 0; oy < oh; oy++) CopyRow(wide + oy * lay.Wq, yk + oy * ow, ow);
        }
    }

    /// <summary>
    /// dx = the input gradient of <see cref="Forward"/> for output gradient <paramref name="dy"/> (written, not added).
    /// </summary>
    public static unsafe void InputGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> w, Span<float> dx, in DepthwiseGeometry g)
    {
        CheckLengths(g, dx.Length, w.Length, dy.Length, "dy");
        var lay = new Layout(g);
        int m = g.Multiplier;
        // Per phase, the gather list: (output channel j of the input channel, tap) pairs at negated offsets into
        // m wide output-gradient planes; the weights are reordered to match once per plane.
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
        fixed (float* dyp = dy, wp = w, dxp = dx)
        {
            nint dya = (nint)dyp, wa = (nint)wp, dxa = (nint)dxp;
            ForUnits(g.Batch * g.Channels, m * lay.DyStride + lay.PhasedLength + order.Length, (u, scratch) =>
                InputGradientPlane(u, (float*)dya, (float*)wa, (float*)dxa, geo, lay, starts, offsets, order, scratch));
        }
    }

    private static unsafe void InputGradientPlane(int unit, float* dy, float* w, float* dx, in DepthwiseGeometry g, Layout lay,
        int[] starts, int[] offsets, int[] order, float* scratch)
    {
        int c = unit % g.Channels, n = unit / g.Channels, m = g.Multiplier;
        int oh = lay.Oh, ow = lay.Ow, ohw = oh * ow, hw = g.Height * g.Width, entries = order.Length;
        float* dyw = scratch, phased = scratch + m * lay.DyStride, wsorted = phased + lay.PhasedLength;
        float* wc = w + (long)c * m * lay.Taps;
        for (int e = 0; e < entries; e++) wsorted[e] = wc[order[e]];
        for (int j = 0; j < m; j++)
        {
            float* src = dy + ((long)n * g.OutChannels + c * m + j) * ohw, dst = dyw + j * lay.DyStride + lay.MaxShift;
            for (int oy = 0; oy < oh; oy++) CopyRow(src + oy * ow, dst + oy * lay.Wq, ow);
        }
        for (int p = 0; p < lay.Phases; p++)
        {
            int e0 = starts[p], e1 = starts[p + 1];
            // A phase no tap reads (stride above the kernel span) stays zero from the scratch's first clearing.
            if (e0 == e1) continue;
            Correlate(dyw, offsets.AsSpan(e0, e1 - e0), wsorted + e0, 0f, phased + p * lay.PhaseStride, lay.PhaseArea);
        }
        Merge(phased, dx + (long)unit * hw, g, lay);
    }

    /// <summary>
    /// dw (and db when not empty) = the weight and bias gradients of <see cref="Forward"/>, summed over the batch
    /// (written, not added). Parallel over input channels, each summing its images in order: deterministic.
    /// </summary>
    public static unsafe void WeightGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dw, Span<float> db, in DepthwiseGeometry g)
    {
        CheckLengths(g, x.Length, dw.Length, dy.Length, "dy");
        if (!db.IsEmpty && db.Length != g.OutChannels) throw new ArgumentException($"bias gradient has {db.Length} values, expected {g.OutChannels}");
        var lay = new Layout(g);
        var geo = g;
        fixed (float* xp = x, dyp = dy, dwp = dw, dbp = db)
        {
            nint xa = (nint)xp, dya = (nint)dyp, dwa = (nint)dwp, dba = db.IsEmpty ? 0 : (nint)dbp;
            ForUnits(g.Channels, lay.PhasedLength + lay.Wide + Slack + g.Multiplier * TapAccumulators, (c, scratch) =>
                WeightGradientChannel(c, (float*)xa, (float*)dya, (float*)dwa, (float*)dba, geo, lay, scratch));
        }
    }

    private static unsafe void WeightGradientChannel(int c, float* x, float* dy, float* dw, float* db, in DepthwiseGeometry g, Layout lay, float* scratch)
    {
        int m = g.Multiplier, oh = lay.Oh, ow = lay.Ow, ohw = oh * ow, hw = g.Height * g.Width;
        float* phased = scratch, wide = scratch + lay.PhasedLength, acc = wide + lay.Wide + Slack;
        float* dwc = dw + (long)c * m * lay.Taps;
        new Span<float>(dwc, m * lay.Taps).Clear();
        new Span<float>(acc, m * TapAccumulators).Clear();
        if (db != null) new Span<float>(db + c * m, m).Clear();
        for (int n = 0; n < g.Batch; n++)
        {
            Split(x + ((long)n * g.Channels + c) * hw, phased, g, lay);
            for (int j = 0; j < m; j++)
            {
                int k = c * m + j;
                float* src = dy + ((long)n * g.OutChannels + k) * ohw;
                // Junk columns stay zero (cleared once with the scratch), so they add nothing to the dot products.
                for (int oy = 0; oy < oh; oy++) CopyRow(src + oy * ow, wide + oy * lay.Wq, ow);
                float sum = TapDots(wide, lay.Wide, phased, lay.TapOffset, dwc + j * lay.Taps, acc + j * TapAccumulators);
                if (db != null) db[k] += sum;
            }
        }
        for (int j = 0; j < m; j++)
        {
            float sum = FlushTapDots(lay.Taps, dwc + j * lay.Taps, acc + j * TapAccumulators);
            if (db != null) db[c * m + j] += sum;
        }
    }

    private static void CheckLengths(in DepthwiseGeometry g, int xLength, int wLength, int yLength, string yName)
    {
        g.Validate();
        if (xLength != g.InputLength) throw new ArgumentException($"input has {xLength} values, expected {g.InputLength} for {g}");
        if (wLength != g.WeightLength) throw new ArgumentException($"weight has {wLength} values, expected {g.WeightLength} for {g}");
        if (yLength != g.OutputLength) throw new ArgumentException($"{yName} has {yLength} values, expected {g.OutputLength} for {g}");
    }

    private unsafe delegate void UnitBody(int unit, float* scratch);

    // Runs body(unit, scratch) for every unit, in a few contiguous runs per thread; each run rents, zeroes and
    // pins its scratch once.
    private static unsafe void ForUnits(int units, int scratchLength, UnitBody body) => ForRuns(units, (u0, u1) =>
    {
        var scratch = BufferPool.RentZeroed(scratchLength);
        try
        {
            fixed (float* s = scratch)
                for (int u = u0; u < u1; u++) body(u, s);
        }
        finally { BufferPool.Return(scratch); }
    });

    /// <summary>Runs run(u0, u1) over [0, units) cut into a few contiguous runs per thread.</summary>
    internal static void ForRuns(int units, Action<int, int> run)
    {
        int chunks = Math.Min(units, Parallelism.Threads * 4);
        Parallelism.For(chunks, ch => run((int)((long)units * ch / chunks), (int)((long)units * (ch + 1) / chunks)));
    }

    // A short row copy (a plane row is often 4 to 32 floats, where a general copy call costs more than the move):
    // whole vectors, then one more ending exactly at the row's end and overlapping the previous one. No masked
    // stores: on the AMD cores measured they cost tens of cycles each.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void CopyRow(float* src, float* dst, int n)
    {
        if (Vector512.IsHardwareAccelerated && !ForceScalar && n >= 16)
        {
            int i = 0;
            for (; i <= n - 16; i += 16) Vector512.Store(Vector512.Load(src + i), dst + i);
            if (i < n) Vector512.Store(Vector512.Load(src + n - 16), dst + n - 16);
            return;
        }
        if (Vector256.IsHardwareAccelerated && !ForceScalar && n >= 8)
        {
            int i = 0;
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
            if (i < n) Vector256.Store(Vector256.Load(src + n - 8), dst + n - 8);
            return;
        }
        if (Vector128.IsHardwareAccelerated && !ForceScalar && n >= 4)
        {
            Vector128.Store(Vector128.Load(src), dst);
            Vector128.Store(Vector128.Load(src + n - 4), dst + n - 4);
            return;
        }
        for (int i = 0; i < n; i++) dst[i] = src[i];
    }

    // Copies one input plane into the padded phase layout (positions of padding are never written, or written zero).
    private static unsafe void Split(float* plane, float* phased, in DepthwiseGeometry g, Layout lay)
    {
        int s = lay.S, p = g.Padding, w = g.Width;
        // SplitPlane's Vector512 form takes rows of up to 32 floats (lead included), its Vector256 one (AVX2 parts) any:
        // the per-element loop below, with a division and a remainder per float, had run AVX2 parts' stride-2
        // depthwise layers at 1.3-1.5 GFLOP/s.
        if (s == 2 && !ForceScalar && (Gemm.RowsSupported ? w + (p & 1) <= 32 : Gemm.RowsByPanelSupported))
        {
            // Padded column t goes to phase t % 2 at t / 2; an odd padding leads each row by one padding column.
            float* dst = phased + (p >> 1);
            StridedConv.SplitPlane(plane, g.Height, w, dst, dst + lay.PhaseStride, 2L * lay.PhaseStride, lay.Wq, p, p & 1);
            return;
        }
        for (int iy = 0; iy < g.Height; iy++)
        {
            int r = iy + p;
            float* row = plane + iy * w, dst = phased + r % s * s * lay.PhaseStride + r / s * lay.Wq;
            if (s == 1)
                CopyRow(row, dst + p, w);
            else if (s == 2 && Avx512F.IsSupported && !ForceScalar)
                Deinterleave(row, w, dst, lay.PhaseStride, p);
            else if (s == 2)
                for (int ix = 0; ix < w; ix++)
                {
                    int col = ix + p;
                    dst[(col & 1) * lay.PhaseStride + (col >> 1)] = row[ix];
                }
            else
                for (int ix = 0; ix < w; ix++)
                {
                    int col = ix + p;
                    dst[col % s * lay.PhaseStride + col / s] = row[ix];
                }
        }
    }

    // The inverse of Split: reads the unpadded positions of the phase layout back into a plane.
    private static unsafe void Merge(float* phased, float* plane, in DepthwiseGeometry g, Layout lay)
    {
        int s = lay.S, p = g.Padding, w = g.Width;
        for (int iy = 0; iy < g.Height; iy++)
        {
            int r = iy + p;
            float* row = plane + iy * w, src = phased + r % s * s * lay.PhaseStride + r / s * lay.Wq;
            if (s == 1)
                CopyRow(src + p, row, w);
            else if (s == 2 && Avx512F.IsSupported && !ForceScalar)
                Interleave(src, lay.PhaseStride, p, row, w);
            else if (s == 2)
                for (int ix = 0; ix < w; ix++)
                {
                    int col = ix + p;
                    row[ix] = src[(col & 1) * lay.PhaseStride + (col >> 1)];
                }
            else
                for (int ix = 0; ix < w; ix++)
                {
                    int col = ix + p;
                    row[ix] = src[col % s * lay.PhaseStride + col / s];
                }
        }
    }


    // Stride 2: padded column ix + pad goes to phase (ix + pad) % 2 at (ix + pad) / 2. Blocks of 32 columns start
    // on an even padded column (at ix = -1 for an odd padding). An edge block is read through a zeroed stack
    // buffer, so the unmasked stores write zeros only where padding or not-yet-written rows are (the layout's
    // slack takes the end of the last row).
    private static unsafe void Deinterleave(float* row, int w, float* dst, int phaseStride, int pad)
    {
        float* edge = stackalloc float[32];
        for (int ix = -(pad & 1); ix < w; ix += 32)
        {
            Vector512<float> a, b;
            if (ix >= 0 && ix + 32 <= w)
            {
                a = Vector512.Load(row + ix);
                b = Vector512.Load(row + ix + 16);
            }
            else
            {
                Vector512.Store(Vector512<float>.Zero, edge);
                Vector512.Store(Vector512<float>.Zero, edge + 16);
                int first = Math.Max(0, -ix), end = Math.Min(32, w - ix);
                CopyRow(row + ix + first, edge + first, end - first);
                a = Vector512.Load(edge);
                b = Vector512.Load(edge + 16);
            }
            int q = (ix + pad) >> 1;
            Vector512.Store(Avx512F.PermuteVar16x32x2(a, Simd.EvenLanes, b), dst + q);
            Vector512.Store(Avx512F.PermuteVar16x32x2(a, Simd.OddLanes, b), dst + phaseStride + q);
        }
    }

    // Blocks wholly inside the row are stored directly; the (at most two) edge blocks go through a stack buffer
    // and a plain copy of their valid part, since masked stores are slow (see CopyRow).
    private static unsafe void Interleave(float* src, int phaseStride, int pad, float* row, int w)
    {
        float* edge = stackalloc float[32];
        for (int ix = -(pad & 1); ix < w; ix += 32)
        {
            int q = (ix + pad) >> 1;
            var even = Vector512.Load(src + q);
            var odd = Vector512.Load(src + phaseStride + q);
            var lo = Avx512F.PermuteVar16x32x2(even, Simd.ZipLow, odd);
            var hi = Avx512F.PermuteVar16x32x2(even, Simd.ZipHigh, odd);
            if (ix >= 0 && ix + 32 <= w)
            {
                Vector512.Store(lo, row + ix);
                Vector512.Store(hi, row + ix + 16);
                continue;
            }
            Vector512.Store(lo, edge);
            Vector512.Store(hi, edge + 16);
            int first = Math.Max(0, -ix), end = Math.Min(32, w - ix);
            CopyRow(edge + first, row + ix + first, end - first);
        }
    }

    /// <summary>
    /// dst[i] = init + sum over e of w[e] * src[offsets[e] + i] for i in [0, len). The vector loops may compute
    /// up to one vector past len (the layouts leave that slack), so every plane is one flat loop.
    /// </summary>
    private static unsafe void Correlate(float* src, ReadOnlySpan<int> offsets, float* w, float init, float* dst, int len)
    {
        int taps = offsets.Length, i = 0;
        fixed (int* o = offsets)
        {
            if (Vector512.IsHardwareAccelerated && !ForceScalar)
            {
                if (taps == 9)
                {
                    Correlate9(src, o, w, init, dst, len);
                    return;
                }
                var b = Vector512.Create(init);
                for (; i < len; i += 16)
                {
                    var acc = b;
                    for (int e = 0; e < taps; e++) acc = Vector512.FusedMultiplyAdd(Vector512.Load(src + o[e] + i), Vector512.Create(w[e]), acc);
                    Vector512.Store(acc, dst + i);
                }
                return;
            }
            if (Vector256.IsHardwareAccelerated && !ForceScalar)
            {
                if (taps == 9)
                {
                    Correlate9(src, o, w, init, dst, len);
                    return;
                }
                var b = Vector256.Create(init);
                for (; i < len; i += 8)
                {
                    var acc = b;
                    for (int e = 0; e < taps; e++) acc = Vector256.FusedMultiplyAdd(Vector256.Load(src + o[e] + i), Vector256.Create(w[e]), acc);
                    Vector256.Store(acc, dst + i);
                }
                return;
            }
            for (; i < len; i++)
            {
                float acc = init;
                for (int e = 0; e < taps; e++) acc = MathF.FusedMultiplyAdd(src[o[e] + i], w[e], acc);
                dst[i] = acc;
            }
        }
    }

    // The 3x3 case with the nine weights and offsets in registers and two partial sums per vector (Vector512, or
    // Vector256 on AVX2 parts).
    private static unsafe void Correlate9(float* src, int* o, float* w, float init, float* dst, int len)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            Correlate9x256(src, o, w, init, dst, len);
            return;
        }
        int o0 = o[0], o1 = o[1], o2 = o[2], o3 = o[3], o4 = o[4], o5 = o[5], o6 = o[6], o7 = o[7], o8 = o[8];
        Vector512<float> w0 = Vector512.Create(w[0]), w1 = Vector512.Create(w[1]), w2 = Vector512.Create(w[2]), w3 = Vector512.Create(w[3]),
            w4 = Vector512.Create(w[4]), w5 = Vector512.Create(w[5]), w6 = Vector512.Create(w[6]), w7 = Vector512.Create(w[7]), w8 = Vector512.Create(w[8]);
        var b = Vector512.Create(init);
        for (int i = 0; i < len; i += 16)
        {
            float* s = src + i;
            var a = Vector512.FusedMultiplyAdd(Vector512.Load(s + o0), w0, b);
            var c = Vector512.Load(s + o1) * w1;
            a = Vector512.FusedMultiplyAdd(Vector512.Load(s + o2), w2, a);
            c = Vector512.FusedMultiplyAdd(Vector512.Load(s + o3), w3, c);
            a = Vector512.FusedMultiplyAdd(Vector512.Load(s + o4), w4, a);
            c = Vector512.FusedMultiplyAdd(Vector512.Load(s + o5), w5, c);
            a = Vector512.FusedMultiplyAdd(Vector512.Load(s + o6), w6, a);
            c = Vector512.FusedMultiplyAdd(Vector512.Load(s + o7), w7, c);
            a = Vector512.FusedMultiplyAdd(Vector512.Load(s + o8), w8, a);
            Vector512.Store(a + c, dst + i);
        }
    }

    private static unsafe void Correlate9x256(float* src, int* o, float* w, float init, float* dst, int len)
    {
        int o0 = o[0], o1 = o[1], o2 = o[2], o3 = o[3], o4 = o[4], o5 = o[5], o6 = o[6], o7 = o[7], o8 = o[8];
        Vector256<float> w0 = Vector256.Create(w[0]), w1 = Vector256.Create(w[1]), w2 = Vector256.Create(w[2]), w3 = Vector256.Create(w[3]),
            w4 = Vector256.Create(w[4]), w5 = Vector256.Create(w[5]), w6 = Vector256.Create(w[6]), w7 = Vector256.Create(w[7]), w8 = Vector256.Create(w[8]);
        var b = Vector256.Create(init);
        for (int i = 0; i < len; i += 8)
        {
            float* s = src + i;
            var a = Vector256.FusedMultiplyAdd(Vector256.Load(s + o0), w0, b);
            var c = Vector256.Load(s + o1) * w1;
            a = Vector256.FusedMultiplyAdd(Vector256.Load(s + o2), w2, a);
            c = Vector256.FusedMultiplyAdd(Vector256.Load(s + o3), w3, c);
            a = Vector256.FusedMultiplyAdd(Vector256.Load(s + o4), w4, a);
            c = Vector256.FusedMultiplyAdd(Vector256.Load(s + o5), w5, c);
            a = Vector256.FusedMultiplyAdd(Vector256.Load(s + o6), w6, a);
            c = Vector256.FusedMultiplyAdd(Vector256.Load(s + o7), w7, c);
            a = Vector256.FusedMultiplyAdd(Vector256.Load(s + o8), w8, a);
            Vector256.Store(a + c, dst + i);
        }
    }

    // dw[t] += sum over the wide plane of dy * phased[offset t + i] (the junk columns of dy being zero); returns
    // the sum of dy (the bias gradient's share). The 3x3 case reads dy once for all nine taps and keeps its ten
    // partial sums as vectors in acc (10 x 16 floats) across the batch: FlushTapDots reduces them once per channel.
    private static unsafe float TapDots(float* wide, int len, float* phased, int[] offsets, float* dw, float* acc)
    {
        if (offsets.Length == 9 && Vector512.IsHardwareAccelerated && !ForceScalar)
        {
            int o0 = offsets[0], o1 = offsets[1], o2 = offsets[2], o3 = offsets[3], o4 = offsets[4], o5 = offsets[5], o6 = offsets[6], o7 = offsets[7], o8 = offsets[8];
            Vector512<float> a0 = Vector512.Load(acc), a1 = Vector512.Load(acc + 16), a2 = Vector512.Load(acc + 32), a3 = Vector512.Load(acc + 48),
                a4 = Vector512.Load(acc + 64), a5 = Vector512.Load(acc + 80), a6 = Vector512.Load(acc + 96), a7 = Vector512.Load(acc + 112),
                a8 = Vector512.Load(acc + 128), sum = Vector512.Load(acc + 144);
            // Past len the wide buffer is zero (its slack is never written), so the last vector may run over.
            for (int i = 0; i < len; i += 16)
            {
                var d = Vector512.Load(wide + i);
                float* s = phased + i;
                sum += d;
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(s + o0), d, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(s + o1), d, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(s + o2), d, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(s + o3), d, a3);
                a4 = Vector512.FusedMultiplyAdd(Vector512.Load(s + o4), d, a4);
                a5 = Vector512.FusedMultiplyAdd(Vector512.Load(s + o5), d, a5);
                a6 = Vector512.FusedMultiplyAdd(Vector512.Load(s + o6), d, a6);
                a7 = Vector512.FusedMultiplyAdd(Vector512.Load(s + o7), d, a7);
                a8 = Vector512.FusedMultiplyAdd(Vector512.Load(s + o8), d, a8);
            }
            Vector512.Store(a0, acc); Vector512.Store(a1, acc + 16); Vector512.Store(a2, acc + 32); Vector512.Store(a3, acc + 48);
            Vector512.Store(a4, acc + 64); Vector512.Store(a5, acc + 80); Vector512.Store(a6, acc + 96); Vector512.Store(a7, acc + 112);
            Vector512.Store(a8, acc + 128); Vector512.Store(sum, acc + 144);
            return 0f;
        }
        var dy = new ReadOnlySpan<float>(wide, len);
        for (int t = 0; t < offsets.Length; t++) dw[t] += TensorPrimitives.Dot(dy, new ReadOnlySpan<float>(phased + offsets[t], len));
        return TensorPrimitives.Sum(dy);
    }

    // Adds the vector partial sums TapDots kept (if it kept any) to dw and returns the bias share.
    private static unsafe float FlushTapDots(int taps, float* dw, float* acc)
    {
        if (taps != 9 || !Vector512.IsHardwareAccelerated || ForceScalar) return 0f;
        for (int t = 0; t < 9; t++) dw[t] += Vector512.Sum(Vector512.Load(acc + 16 * t));
        return Vector512.Sum(Vector512.Load(acc + 144));
    }
}
