using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

// The tap-list half of CompactTileConv: a TapPlan's blocks (kernel columns, connection-pruned slices, or every tap at
// stride 2) over the unpadded planes or the compact parity phases.
internal static unsafe partial class CompactTileConv
{
    /// <summary>
    /// <see cref="Forward"/> with a <see cref="TapPlan"/>: only its taps are multiplied (a kernel-column pruned
    /// convolution costs its kept columns).
    /// </summary>
    public static void ForwardTaps(float* x, int h, int w, TapPlan plan, float* y, float* guarded, float* masks, float* bias = null, bool relu = false, float* residual = null)
    {
        if (!Supported) throw new PlatformNotSupportedException("CompactTileConv needs AVX-512");
        if (!plan.Wide) throw new InvalidOperationException("CompactTileConv: the tap list's blocks were made for the Vector256 family");
        int plane = h * w, stride = PlaneStride(h, w);
        float* planes = guarded + Guard(w);
        CopyEdgeRows(x, plan.InChannels, h, w, planes, plan, pairs: true);
        RunTaps<Unstacked>(planes, h, w, plan, plan.Offsets(stride, w), plan.Ends, y, masks, bias, relu, residual, x, plan.Offsets(plane, w));
    }

    /// <summary>Scratch floats for the four parity phases of an image of <paramref name="channels"/> planes with oh x ow outputs at stride 2.</summary>
    public static int PhasedLength(int channels, int oh, int ow) => Guard(ow) + 4 * channels * PlaneStride(oh, ow) + Chunk + Guard(ow);

    /// <summary>
    /// <see cref="ForwardTaps"/> at stride 2 (y is oh x ow, oh = (h+1)/2): the input is split into its four (row
    /// parity, column parity) phases, each oh x ow at the output's own pitch, where tap (ky, kx) of output (oy, ox)
    /// is element (oy - [ky = 0], ox - [kx = 0]) of phase ([ky != 1], [kx != 1]); only the left shift needs a mask.
    /// <paramref name="phased"/> (<see cref="PhasedLength"/>) must be zero before the first image of a geometry:
    /// the split writes the positions that hold input, so the rest stays zero; <paramref name="masks"/> are
    /// <see cref="Masks"/> of (oh, ow).
    /// </summary>
    public static void ForwardTapsStride2(float* x, int h, int w, TapPlan plan, float* y, float* phased, float* masks, float* bias = null, bool relu = false, float* residual = null)
    {
        if (!Supported) throw new PlatformNotSupportedException("CompactTileConv needs AVX-512");
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1, stride = PlaneStride(oh, ow);
        float* planes = phased + Guard(ow);
        SplitPhases(x, 0, 1, h, w, plan, planes, stride);
        RunTaps<Unstacked>(planes, oh, ow, plan, plan.OffsetsStride2(stride, ow), plan.EndsStride2, y, masks, bias, relu, residual);
    }

    // The parity phases of `images` images (image i at x + i*inImage) for the channels the plan reads: channel c's four
    // phase planes start at planes + 4*c*stride, image i's rows (oh + 1)*ow floats after image i-1's (the row between
    // two stacked images is never written, so it stays zero).
    private static void SplitPhases(float* x, long inImage, int images, int h, int w, TapPlan plan, float* planes, int stride)
    {
        int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1;
        for (int i = 0; i < images; i++)
            for (int c = 0; c < plan.InChannels; c++)
            {
                if (!plan.ReadsChannel(c)) continue;
                float* phases = planes + (long)4 * c * stride + (long)i * (oh + 1) * ow;
                float* plane = x + i * inImage + (long)c * h * w;
                // A 1x1 convolution's centre taps read phase (0, 0) only: a quarter of the split.
                if (plan.CentreOnly) StridedConv.GatherEvenRowsAndColumns(plane, h, w, phases, ow);
                else StridedConv.SplitPlane(plane, h, w, phases, phases + stride, 2L * stride, ow, 0);
            }
    }

    // Every block of the plan over every chunk of the output plane: blocks of up to 4 filters two chunks at a time
    // (TapBlockWide), larger ones one chunk at a time; ends[3b..3b+2] end block b's left-masked, unmasked and
    // right-masked taps. With a direct input (stride 1), a chunk inside rows 2 .. h-3 (a pair: both its chunks) reads it
    // instead of the guarded copy; ForwardTaps copies the rows of every pair that is not inside, which covers every
    // single chunk that is not.
    private static void RunTaps<TS>(float* planes, int h, int w, TapPlan plan, nint[] offsetsOf, int[] endsOf, float* y, float* masks, float* bias, bool relu, float* residual,
        float* direct = null, nint[]? directOffsetsOf = null, int imageRows = 0, long outImage = 0) where TS : struct, IStacking
    {
        int blocks = plan.BlockCount;
        float* output = stackalloc float[2 * MaxBlock * Chunk + 16];
        output = (float*)(((nint)output + 63) & ~(nint)63);
        float* second = output + MaxBlock * Chunk;
        fixed (float* weights = plan.Weights)
        fixed (nint* guardedOffsets = offsetsOf, directOffsets = directOffsetsOf)
        fixed (int* ends = endsOf, filters = plan.Filters, blockStarts = plan.BlockStarts, tapStarts = plan.TapStarts, weightStarts = plan.WeightStarts)
        {
            var pass = new ChunkPass(direct, planes, plan.InChannels, 0, directOffsets, guardedOffsets, h, w, masks, y, bias, relu, residual, imageRows, outImage);
            for (int b = 0; b < blocks; b++)
            {
                int f0 = blockStarts[b], count = blockStarts[b + 1] - f0, t0 = tapStarts[b];
                if (count <= 4) DispatchWide<TS>(count, in pass, t0, ends + 3 * b, weights + weightStarts[b], output, second, filters + f0);
                else DispatchTaps<TS>(count, in pass, 0, t0, ends + 3 * b, weights + weightStarts[b], output, filters + f0);
            }
        }
    }

    private static void DispatchTaps<TS>(int count, in ChunkPass pass, int from, int t0, int* ends, float* weights, float* output, int* filters) where TS : struct, IStacking
    {
        switch (count)
        {
            case 1: TapBlock<F1, TS>(in pass, from, t0, ends, weights, output, filters); break;
            case 2: TapBlock<F2, TS>(in pass, from, t0, ends, weights, output, filters); break;
            case 3: TapBlock<F3, TS>(in pass, from, t0, ends, weights, output, filters); break;
            case 4: TapBlock<F4, TS>(in pass, from, t0, ends, weights, output, filters); break;
            case 5: TapBlock<F5, TS>(in pass, from, t0, ends, weights, output, filters); break;
            case 6: TapBlock<F6, TS>(in pass, from, t0, ends, weights, output, filters); break;
            case 7: TapBlock<F7, TS>(in pass, from, t0, ends, weights, output, filters); break;
            case 8: TapBlock<F8, TS>(in pass, from, t0, ends, weights, output, filters); break;
            default: throw new ArgumentOutOfRangeException(nameof(count));
        }
    }

    // One block of T.Filters filters over the chunks of the plane from `from` on, one at a time, over its list of taps:
    // offsets[e] (pass.Input) is tap e's shift from the chunk, the taps [0, ends[0]) read the left neighbour (masked),
    // [ends[0], ends[1]) the column itself and [ends[1], ends[2]) the right neighbour (masked). Weights are [tap][filter].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TapBlock<T, TS>(in ChunkPass pass, int from, int t0, int* ends, float* weights, float* output, int* filters) where T : struct, IFilters where TS : struct, IStacking
    {
        int end0 = ends[0], end1 = ends[1], end2 = ends[2];
        float* bias = pass.Bias;
        for (int j0 = from; j0 < pass.Plane; j0 += Chunk)
        {
            float* input = pass.Input(j0, pairs: false, out var shifts);
            nint* offsets = shifts + t0;
            float* masks = pass.MasksAt(j0);
            var at = pass.WholeAt(j0, TS.Stacked);
            var zero = Vector512<float>.Zero;
            Vector512<float> a00 = zero, a01 = zero, a10 = zero, a11 = zero, a20 = zero, a21 = zero, a30 = zero, a31 = zero, a40 = zero, a41 = zero, a50 = zero, a51 = zero, a60 = zero, a61 = zero, a70 = zero, a71 = zero;
            var left0 = Vector512.Load(masks);
            var left1 = Vector512.Load(masks + 16);
            var right0 = Vector512.Load(masks + Chunk);
            var right1 = Vector512.Load(masks + Chunk + 16);
            float* wr = weights;
            for (nint e = 0; e < end0; e++, wr += T.Filters)
            {
                float* p = input + offsets[e];
                var v = Vector512.Load(p) & left0;
                var u = Vector512.Load(p + 16) & left1;
                { var k = Vector512.Create(wr[0]); a00 = Vector512.FusedMultiplyAdd(v, k, a00); a01 = Vector512.FusedMultiplyAdd(u, k, a01); }
                if (T.Filters > 1) { var k = Vector512.Create(wr[1]); a10 = Vector512.FusedMultiplyAdd(v, k, a10); a11 = Vector512.FusedMultiplyAdd(u, k, a11); }
                if (T.Filters > 2) { var k = Vector512.Create(wr[2]); a20 = Vector512.FusedMultiplyAdd(v, k, a20); a21 = Vector512.FusedMultiplyAdd(u, k, a21); }
                if (T.Filters > 3) { var k = Vector512.Create(wr[3]); a30 = Vector512.FusedMultiplyAdd(v, k, a30); a31 = Vector512.FusedMultiplyAdd(u, k, a31); }
                if (T.Filters > 4) { var k = Vector512.Create(wr[4]); a40 = Vector512.FusedMultiplyAdd(v, k, a40); a41 = Vector512.FusedMultiplyAdd(u, k, a41); }
                if (T.Filters > 5) { var k = Vector512.Create(wr[5]); a50 = Vector512.FusedMultiplyAdd(v, k, a50); a51 = Vector512.FusedMultiplyAdd(u, k, a51); }
                if (T.Filters > 6) { var k = Vector512.Create(wr[6]); a60 = Vector512.FusedMultiplyAdd(v, k, a60); a61 = Vector512.FusedMultiplyAdd(u, k, a61); }
                if (T.Filters > 7) { var k = Vector512.Create(wr[7]); a70 = Vector512.FusedMultiplyAdd(v, k, a70); a71 = Vector512.FusedMultiplyAdd(u, k, a71); }
            }
            for (nint e = end0; e < end1; e++, wr += T.Filters)
            {
                float* p = input + offsets[e];
                var v = Vector512.Load(p);
                var u = Vector512.Load(p + 16);
                { var k = Vector512.Create(wr[0]); a00 = Vector512.FusedMultiplyAdd(v, k, a00); a01 = Vector512.FusedMultiplyAdd(u, k, a01); }
                if (T.Filters > 1) { var k = Vector512.Create(wr[1]); a10 = Vector512.FusedMultiplyAdd(v, k, a10); a11 = Vector512.FusedMultiplyAdd(u, k, a11); }
                if (T.Filters > 2) { var k = Vector512.Create(wr[2]); a20 = Vector512.FusedMultiplyAdd(v, k, a20); a21 = Vector512.FusedMultiplyAdd(u, k, a21); }
                if (T.Filters > 3) { var k = Vector512.Create(wr[3]); a30 = Vector512.FusedMultiplyAdd(v, k, a30); a31 = Vector512.FusedMultiplyAdd(u, k, a31); }
                if (T.Filters > 4) { var k = Vector512.Create(wr[4]); a40 = Vector512.FusedMultiplyAdd(v, k, a40); a41 = Vector512.FusedMultiplyAdd(u, k, a41); }
                if (T.Filters > 5) { var k = Vector512.Create(wr[5]); a50 = Vector512.FusedMultiplyAdd(v, k, a50); a51 = Vector512.FusedMultiplyAdd(u, k, a51); }
                if (T.Filters > 6) { var k = Vector512.Create(wr[6]); a60 = Vector512.FusedMultiplyAdd(v, k, a60); a61 = Vector512.FusedMultiplyAdd(u, k, a61); }
                if (T.Filters > 7) { var k = Vector512.Create(wr[7]); a70 = Vector512.FusedMultiplyAdd(v, k, a70); a71 = Vector512.FusedMultiplyAdd(u, k, a71); }
            }
            for (nint e = end1; e < end2; e++, wr += T.Filters)
            {
                float* p = input + offsets[e];
                var v = Vector512.Load(p) & right0;
                var u = Vector512.Load(p + 16) & right1;
                { var k = Vector512.Create(wr[0]); a00 = Vector512.FusedMultiplyAdd(v, k, a00); a01 = Vector512.FusedMultiplyAdd(u, k, a01); }
                if (T.Filters > 1) { var k = Vector512.Create(wr[1]); a10 = Vector512.FusedMultiplyAdd(v, k, a10); a11 = Vector512.FusedMultiplyAdd(u, k, a11); }
                if (T.Filters > 2) { var k = Vector512.Create(wr[2]); a20 = Vector512.FusedMultiplyAdd(v, k, a20); a21 = Vector512.FusedMultiplyAdd(u, k, a21); }
                if (T.Filters > 3) { var k = Vector512.Create(wr[3]); a30 = Vector512.FusedMultiplyAdd(v, k, a30); a31 = Vector512.FusedMultiplyAdd(u, k, a31); }
                if (T.Filters > 4) { var k = Vector512.Create(wr[4]); a40 = Vector512.FusedMultiplyAdd(v, k, a40); a41 = Vector512.FusedMultiplyAdd(u, k, a41); }
                if (T.Filters > 5) { var k = Vector512.Create(wr[5]); a50 = Vector512.FusedMultiplyAdd(v, k, a50); a51 = Vector512.FusedMultiplyAdd(u, k, a51); }
                if (T.Filters > 6) { var k = Vector512.Create(wr[6]); a60 = Vector512.FusedMultiplyAdd(v, k, a60); a61 = Vector512.FusedMultiplyAdd(u, k, a61); }
                if (T.Filters > 7) { var k = Vector512.Create(wr[7]); a70 = Vector512.FusedMultiplyAdd(v, k, a70); a71 = Vector512.FusedMultiplyAdd(u, k, a71); }
            }
            if (at.Valid == Chunk)
            {
                at.WriteWhole(filters[0], bias, a00, a01);
                if (T.Filters > 1) at.WriteWhole(filters[1], bias, a10, a11);
                if (T.Filters > 2) at.WriteWhole(filters[2], bias, a20, a21);
                if (T.Filters > 3) at.WriteWhole(filters[3], bias, a30, a31);
                if (T.Filters > 4) at.WriteWhole(filters[4], bias, a40, a41);
                if (T.Filters > 5) at.WriteWhole(filters[5], bias, a50, a51);
                if (T.Filters > 6) at.WriteWhole(filters[6], bias, a60, a61);
                if (T.Filters > 7) at.WriteWhole(filters[7], bias, a70, a71);
                continue;
            }
            // The plane's last chunk (stacked: a chunk across a separator row): through the buffer, only its positions written.
            StoreSums<T>(output, a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51, a60, a61, a70, a71);
            if (TS.Stacked) WriteStacked(in pass, j0, filters, 0, T.Filters, output);
            else for (int o = 0; o < T.Filters; o++) at.Write(filters[o], bias, output + o * Chunk);
        }
    }

    private static void DispatchWide<TS>(int count, in ChunkPass pass, int t0, int* ends, float* weights, float* output, float* second, int* filters) where TS : struct, IStacking
    {
        switch (count)
        {
            case 1: TapBlockWide<F1, TS>(in pass, t0, ends, weights, output, second, filters); break;
            case 2: TapBlockWide<F2, TS>(in pass, t0, ends, weights, output, second, filters); break;
            case 3: TapBlockWide<F3, TS>(in pass, t0, ends, weights, output, second, filters); break;
            case 4: TapBlockWide<F4, TS>(in pass, t0, ends, weights, output, second, filters); break;
            default: throw new ArgumentOutOfRangeException(nameof(count));
        }
    }

    // TapBlock for blocks of up to 4 filters, two chunks at a time (64 positions: 4 accumulators per filter), so that a
    // block of 4 keeps 16 multiply-add chains in flight rather than 8; a last chunk without a partner goes through
    // TapBlock. Results of a pair with a partial second chunk go through the buffers (output, second: [filter][32]).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TapBlockWide<T, TS>(in ChunkPass pass, int t0, int* ends, float* weights, float* output, float* second, int* filters) where T : struct, IFilters where TS : struct, IStacking
    {
        int end0 = ends[0], end1 = ends[1], end2 = ends[2];
        float* bias = pass.Bias;
        int j0 = 0;
        for (; j0 + Chunk < pass.Plane; j0 += 2 * Chunk)
        {
            float* input = pass.Input(j0, pairs: true, out var shifts);
            nint* offsets = shifts + t0;
            float* masks = pass.MasksAt(j0);
            var at = pass.WholeAt(j0, TS.Stacked);
            var next = pass.WholeAt(j0 + Chunk, TS.Stacked);
            var zero = Vector512<float>.Zero;
            Vector512<float> a00 = zero, a01 = zero, a02 = zero, a03 = zero, a10 = zero, a11 = zero, a12 = zero, a13 = zero, a20 = zero, a21 = zero, a22 = zero, a23 = zero, a30 = zero, a31 = zero, a32 = zero, a33 = zero;
            var left0 = Vector512.Load(masks);
            var left1 = Vector512.Load(masks + 16);
            var left2 = Vector512.Load(masks + 2 * Chunk);
            var left3 = Vector512.Load(masks + 2 * Chunk + 16);
            var right0 = Vector512.Load(masks + Chunk);
            var right1 = Vector512.Load(masks + Chunk + 16);
            var right2 = Vector512.Load(masks + 3 * Chunk);
            var right3 = Vector512.Load(masks + 3 * Chunk + 16);
            float* wr = weights;
            for (nint e = 0; e < end0; e++, wr += T.Filters)
            {
                float* p = input + offsets[e];
                var v0 = Vector512.Load(p) & left0;
                var v1 = Vector512.Load(p + 16) & left1;
                var v2 = Vector512.Load(p + 32) & left2;
                var v3 = Vector512.Load(p + 48) & left3;
                { var k = Vector512.Create(wr[0]); a00 = Vector512.FusedMultiplyAdd(v0, k, a00); a01 = Vector512.FusedMultiplyAdd(v1, k, a01); a02 = Vector512.FusedMultiplyAdd(v2, k, a02); a03 = Vector512.FusedMultiplyAdd(v3, k, a03); }
                if (T.Filters > 1) { var k = Vector512.Create(wr[1]); a10 = Vector512.FusedMultiplyAdd(v0, k, a10); a11 = Vector512.FusedMultiplyAdd(v1, k, a11); a12 = Vector512.FusedMultiplyAdd(v2, k, a12); a13 = Vector512.FusedMultiplyAdd(v3, k, a13); }
                if (T.Filters > 2) { var k = Vector512.Create(wr[2]); a20 = Vector512.FusedMultiplyAdd(v0, k, a20); a21 = Vector512.FusedMultiplyAdd(v1, k, a21); a22 = Vector512.FusedMultiplyAdd(v2, k, a22); a23 = Vector512.FusedMultiplyAdd(v3, k, a23); }
                if (T.Filters > 3) { var k = Vector512.Create(wr[3]); a30 = Vector512.FusedMultiplyAdd(v0, k, a30); a31 = Vector512.FusedMultiplyAdd(v1, k, a31); a32 = Vector512.FusedMultiplyAdd(v2, k, a32); a33 = Vector512.FusedMultiplyAdd(v3, k, a33); }
            }
            for (nint e = end0; e < end1; e++, wr += T.Filters)
            {
                float* p = input + offsets[e];
                var v0 = Vector512.Load(p);
                var v1 = Vector512.Load(p + 16);
                var v2 = Vector512.Load(p + 32);
                var v3 = Vector512.Load(p + 48);
                { var k = Vector512.Create(wr[0]); a00 = Vector512.FusedMultiplyAdd(v0, k, a00); a01 = Vector512.FusedMultiplyAdd(v1, k, a01); a02 = Vector512.FusedMultiplyAdd(v2, k, a02); a03 = Vector512.FusedMultiplyAdd(v3, k, a03); }
                if (T.Filters > 1) { var k = Vector512.Create(wr[1]); a10 = Vector512.FusedMultiplyAdd(v0, k, a10); a11 = Vector512.FusedMultiplyAdd(v1, k, a11); a12 = Vector512.FusedMultiplyAdd(v2, k, a12); a13 = Vector512.FusedMultiplyAdd(v3, k, a13); }
                if (T.Filters > 2) { var k = Vector512.Create(wr[2]); a20 = Vector512.FusedMultiplyAdd(v0, k, a20); a21 = Vector512.FusedMultiplyAdd(v1, k, a21); a22 = Vector512.FusedMultiplyAdd(v2, k, a22); a23 = Vector512.FusedMultiplyAdd(v3, k, a23); }
                if (T.Filters > 3) { var k = Vector512.Create(wr[3]); a30 = Vector512.FusedMultiplyAdd(v0, k, a30); a31 = Vector512.FusedMultiplyAdd(v1, k, a31); a32 = Vector512.FusedMultiplyAdd(v2, k, a32); a33 = Vector512.FusedMultiplyAdd(v3, k, a33); }
            }
            for (nint e = end1; e < end2; e++, wr += T.Filters)
            {
                float* p = input + offsets[e];
                var v0 = Vector512.Load(p) & right0;
                var v1 = Vector512.Load(p + 16) & right1;
                var v2 = Vector512.Load(p + 32) & right2;
                var v3 = Vector512.Load(p + 48) & right3;
                { var k = Vector512.Create(wr[0]); a00 = Vector512.FusedMultiplyAdd(v0, k, a00); a01 = Vector512.FusedMultiplyAdd(v1, k, a01); a02 = Vector512.FusedMultiplyAdd(v2, k, a02); a03 = Vector512.FusedMultiplyAdd(v3, k, a03); }
                if (T.Filters > 1) { var k = Vector512.Create(wr[1]); a10 = Vector512.FusedMultiplyAdd(v0, k, a10); a11 = Vector512.FusedMultiplyAdd(v1, k, a11); a12 = Vector512.FusedMultiplyAdd(v2, k, a12); a13 = Vector512.FusedMultiplyAdd(v3, k, a13); }
                if (T.Filters > 2) { var k = Vector512.Create(wr[2]); a20 = Vector512.FusedMultiplyAdd(v0, k, a20); a21 = Vector512.FusedMultiplyAdd(v1, k, a21); a22 = Vector512.FusedMultiplyAdd(v2, k, a22); a23 = Vector512.FusedMultiplyAdd(v3, k, a23); }
                if (T.Filters > 3) { var k = Vector512.Create(wr[3]); a30 = Vector512.FusedMultiplyAdd(v0, k, a30); a31 = Vector512.FusedMultiplyAdd(v1, k, a31); a32 = Vector512.FusedMultiplyAdd(v2, k, a32); a33 = Vector512.FusedMultiplyAdd(v3, k, a33); }
            }
            if (at.Valid == Chunk && next.Valid == Chunk)
            {
                { at.WriteWhole(filters[0], bias, a00, a01); next.WriteWhole(filters[0], bias, a02, a03); }
                if (T.Filters > 1) { at.WriteWhole(filters[1], bias, a10, a11); next.WriteWhole(filters[1], bias, a12, a13); }
                if (T.Filters > 2) { at.WriteWhole(filters[2], bias, a20, a21); next.WriteWhole(filters[2], bias, a22, a23); }
                if (T.Filters > 3) { at.WriteWhole(filters[3], bias, a30, a31); next.WriteWhole(filters[3], bias, a32, a33); }
                continue;
            }
            StoreSums<T>(output, a00, a01, a10, a11, a20, a21, a30, a31, default, default, default, default, default, default, default, default);
            StoreSums<T>(second, a02, a03, a12, a13, a22, a23, a32, a33, default, default, default, default, default, default, default, default);
            if (TS.Stacked)
            {
                WriteStacked(in pass, j0, filters, 0, T.Filters, output);
                WriteStacked(in pass, j0 + Chunk, filters, 0, T.Filters, second);
                continue;
            }
            for (int o = 0; o < T.Filters; o++)
            {
                at.Write(filters[o], bias, output + o * Chunk);
                next.Write(filters[o], bias, second + o * Chunk);
            }
        }
        if (j0 < pass.Plane) TapBlock<T, TS>(in pass, j0, t0, ends, weights, output, filters);
    }
}
