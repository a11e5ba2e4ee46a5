using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// Register-blocked micro-kernels and packing for <see cref="Gemm"/>. A kernel computes one MR x NR tile of
/// C from an A micro-panel and a packed B micro-panel (kc steps of NR floats).
/// </summary>
/// <remarks>
/// <para>Kernel arguments: <c>kc</c> depth; <c>a</c> the panel's first element, row r at depth p being
/// <c>a[r*rs + p*ps]</c>, so one kernel reads a packed panel (rs = 1, ps = MR) or A in place, plain
/// (rs = lda, ps = 1) or transposed (rs = 1, ps = lda); <c>b</c> the B panel, depth step p at <c>b + p*bs</c>
/// (packed: bs = NR; a plain B read in place: bs = ldb, full-width panels only); <c>c</c>/<c>ldc</c> the
/// tile of C; <c>add</c> adds to C instead of overwriting; <c>mr</c>, <c>nr</c> the valid part of the tile
/// (rows past <c>mr</c> re-read row mr-1 and are discarded, so an in-place A is never read out of bounds);
/// <c>tile</c> MR512*NR512 floats of scratch for partial tiles.</para>
/// <para>Accumulators start at zero and are added to C only at the end, so every element of C sees the same
/// sequence of operations whichever tile, block or thread it falls in: results do not depend on how the
/// work was split.</para>
/// </remarks>
[SkipLocalsInit]
internal static unsafe class GemmKernels
{
    /// <summary>A tile's row count as a type, so each row count gets its own compiled kernel.</summary>
    public interface IRows { static abstract int N { get; } }
#pragma warning disable CS1591 // one-line row-count markers
    public struct R1 : IRows { public static int N => 1; }
    public struct R2 : IRows { public static int N => 2; }
    public struct R3 : IRows { public static int N => 3; }
    public struct R4 : IRows { public static int N => 4; }
    public struct R5 : IRows { public static int N => 5; }
    public struct R6 : IRows { public static int N => 6; }
    public struct R7 : IRows { public static int N => 7; }
    public struct R8 : IRows { public static int N => 8; }
    public struct R9 : IRows { public static int N => 9; }
    public struct R10 : IRows { public static int N => 10; }
    public struct R11 : IRows { public static int N => 11; }
    public struct R12 : IRows { public static int N => 12; }
    // 13-28: the direct convolution's one-vector tiles (DirectConvKernels).
    public struct R13 : IRows { public static int N => 13; }
    public struct R14 : IRows { public static int N => 14; }
    public struct R15 : IRows { public static int N => 15; }
    public struct R16 : IRows { public static int N => 16; }
    public struct R17 : IRows { public static int N => 17; }
    public struct R18 : IRows { public static int N => 18; }
    public struct R19 : IRows { public static int N => 19; }
    public struct R20 : IRows { public static int N => 20; }
    public struct R21 : IRows { public static int N => 21; }
    public struct R22 : IRows { public static int N => 22; }
    public struct R23 : IRows { public static int N => 23; }
    public struct R24 : IRows { public static int N => 24; }
    public struct R25 : IRows { public static int N => 25; }
    public struct R26 : IRows { public static int N => 26; }
    public struct R27 : IRows { public static int N => 27; }
    public struct R28 : IRows { public static int N => 28; }
#pragma warning restore CS1591

    /// <summary>Where a micro-kernel finds depth step p of its B panel (a type, so each source gets its own compiled kernel).</summary>
    public interface IBPanel { float* Row(int p); }

    /// <summary>A packed or in-place B: depth step p at <c>Ptr + p*Step</c>.</summary>
    public readonly struct StridedB(float* ptr, nint step) : IBPanel
    {
        /// <summary>Depth step 0.</summary>
        public readonly float* Ptr = ptr;
        /// <summary>Floats between depth steps.</summary>
        public readonly nint Step = step;
        /// <inheritdoc/>
        public float* Row(int p) => Ptr + p * Step;
    }

    /// <summary>A B given row by row (see <see cref="Gemm.MultiplyRowsByPanel{S}"/>): depth step p at <c>Rows[p] + Col</c>.</summary>
    public readonly struct RowsB(float** rows, nint col) : IBPanel
    {
        private readonly float** _rows = rows;
        private readonly nint _col = col;
        /// <inheritdoc/>
        public float* Row(int p) => _rows[p] + _col;
    }

    /// <summary>Rows of the Vector512 tile.</summary>
    public const int MR512 = 12;
    /// <summary>Columns of the Vector512 tile (two vectors).</summary>
    public const int NR512 = 32;
    /// <summary>Rows of the Vector256 tile.</summary>
    public const int MR256 = 6;
    /// <summary>Columns of the Vector256 tile (two vectors).</summary>
    public const int NR256 = 16;
    /// <summary>
    /// Rows per Vector256 tile for an <paramref name="m"/>-row A: <see cref="MR256"/> spread evenly over the tiles m
    /// needs (8 = 4 + 4, 7 = 4 + 3, 9 = 5 + 4, 16 = 6 + 6 + 4). A tile of one to three rows holds too few accumulators
    /// to cover the multiply-add latency and loads the B rows for little work: a pruned layer's 7 or 8 filters had run
    /// as 6 + 1 or 6 + 2 (one thread, Zen 3: 8 filters of depth 63 over 28x28 planes 0.84 -> 0.78 ms for 64 images, 7
    /// filters of depth 72 0.83 -> 0.75).
    /// </summary>
    public static int BalancedRows256(int m)
    {
        m = Math.Max(m, 1);
        int tiles = (m + MR256 - 1) / MR256;
        return (m + tiles - 1) / tiles;
    }

    /// <summary>Rows of the scalar tile.</summary>
    public const int MRScalar = 4;
    /// <summary>Columns of the scalar tile.</summary>
    public const int NRScalar = 4;

    /// <summary>Up to 12 x 32 tile with Vector512 FMA, specialised on the row count <typeparamref name="R"/>.</summary>
    /// <remarks>
    /// 24 of the 32 zmm registers hold accumulators, leaving the two B vectors and the broadcast room;
    /// 14 rows would fit on paper but leaves the register allocator no slack. Twelve row pointers do not all
    /// fit the general registers, so a few are reloaded from the stack each step: cheap L1 loads. The row
    /// count is a type argument so the JIT drops the unused rows: a 4-row tail tile (M = 16 is 12 + 4) does
    /// 8 multiply-adds per depth step, not 24.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel512<R, B>(int kc, float* a, nint rs, nint ps, B b, float* c, int ldc, bool add, int mr, int nr, float* tile)
        where R : struct, IRows where B : struct, IBPanel
    {
        int last = mr - 1;
        float* a0 = a + Math.Min(0, last) * rs;
        float* a1 = a + Math.Min(1, last) * rs;
        float* a2 = a + Math.Min(2, last) * rs;
        float* a3 = a + Math.Min(3, last) * rs;
        float* a4 = a + Math.Min(4, last) * rs;
        float* a5 = a + Math.Min(5, last) * rs;
        float* a6 = a + Math.Min(6, last) * rs;
        float* a7 = a + Math.Min(7, last) * rs;
        float* a8 = a + Math.Min(8, last) * rs;
        float* a9 = a + Math.Min(9, last) * rs;
        float* a10 = a + Math.Min(10, last) * rs;
        float* a11 = a + Math.Min(11, last) * rs;
        nint o = 0;
        var z = Vector512<float>.Zero;
        Vector512<float> c00 = z, c01 = z;
        Vector512<float> c10 = z, c11 = z;
        Vector512<float> c20 = z, c21 = z;
        Vector512<float> c30 = z, c31 = z;
        Vector512<float> c40 = z, c41 = z;
        Vector512<float> c50 = z, c51 = z;
        Vector512<float> c60 = z, c61 = z;
        Vector512<float> c70 = z, c71 = z;
        Vector512<float> c80 = z, c81 = z;
        Vector512<float> c90 = z, c91 = z;
        Vector512<float> c100 = z, c101 = z;
        Vector512<float> c110 = z, c111 = z;
        for (int p = 0; p < kc; p++)
        {
            float* bp = b.Row(p);
            var b0 = Vector512.Load(bp);
            var b1 = Vector512.Load(bp + 16);
            Vector512<float> x;
            if (R.N > 0) { x = Vector512.Create(a0[o]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01); }
            if (R.N > 1) { x = Vector512.Create(a1[o]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11); }
            if (R.N > 2) { x = Vector512.Create(a2[o]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21); }
            if (R.N > 3) { x = Vector512.Create(a3[o]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31); }
            if (R.N > 4) { x = Vector512.Create(a4[o]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41); }
            if (R.N > 5) { x = Vector512.Create(a5[o]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51); }
            if (R.N > 6) { x = Vector512.Create(a6[o]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61); }
            if (R.N > 7) { x = Vector512.Create(a7[o]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71); }
            if (R.N > 8) { x = Vector512.Create(a8[o]); c80 = Vector512.FusedMultiplyAdd(x, b0, c80); c81 = Vector512.FusedMultiplyAdd(x, b1, c81); }
            if (R.N > 9) { x = Vector512.Create(a9[o]); c90 = Vector512.FusedMultiplyAdd(x, b0, c90); c91 = Vector512.FusedMultiplyAdd(x, b1, c91); }
            if (R.N > 10) { x = Vector512.Create(a10[o]); c100 = Vector512.FusedMultiplyAdd(x, b0, c100); c101 = Vector512.FusedMultiplyAdd(x, b1, c101); }
            if (R.N > 11) { x = Vector512.Create(a11[o]); c110 = Vector512.FusedMultiplyAdd(x, b0, c110); c111 = Vector512.FusedMultiplyAdd(x, b1, c111); }
            o += ps;
        }

        // Partial tiles go through a scratch tile so the FMA loop above never needs bounds on rows/columns.
        bool full = mr == R.N && nr == NR512;
        float* d = full ? c : tile;
        int ld = full ? ldc : NR512;
        bool addHere = full && add;
        if (R.N > 0) { Put(c00, d, addHere); Put(c01, d + 16, addHere); d += ld; }
        if (R.N > 1) { Put(c10, d, addHere); Put(c11, d + 16, addHere); d += ld; }
        if (R.N > 2) { Put(c20, d, addHere); Put(c21, d + 16, addHere); d += ld; }
        if (R.N > 3) { Put(c30, d, addHere); Put(c31, d + 16, addHere); d += ld; }
        if (R.N > 4) { Put(c40, d, addHere); Put(c41, d + 16, addHere); d += ld; }
        if (R.N > 5) { Put(c50, d, addHere); Put(c51, d + 16, addHere); d += ld; }
        if (R.N > 6) { Put(c60, d, addHere); Put(c61, d + 16, addHere); d += ld; }
        if (R.N > 7) { Put(c70, d, addHere); Put(c71, d + 16, addHere); d += ld; }
        if (R.N > 8) { Put(c80, d, addHere); Put(c81, d + 16, addHere); d += ld; }
        if (R.N > 9) { Put(c90, d, addHere); Put(c91, d + 16, addHere); d += ld; }
        if (R.N > 10) { Put(c100, d, addHere); Put(c101, d + 16, addHere); d += ld; }
        if (R.N > 11) { Put(c110, d, addHere); Put(c111, d + 16, addHere); d += ld; }
        if (!full) CopyTile(tile, NR512, c, ldc, mr, nr, add);
    }

    /// <summary>Up to 6 x 16 tile with Vector256 FMA, specialised on the row count <typeparamref name="R"/>.</summary>
    /// <remarks>
    /// The largest tile whose 12 accumulators, two B vectors and broadcast fit the 16 ymm registers. As in
    /// <see cref="Kernel512{R, B}"/> the JIT drops the unused rows: M = 16 is 6 + 6 + 4, and the 4-row tile does
    /// 8 multiply-adds per depth step, not 12.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel256<R, B>(int kc, float* a, nint rs, nint ps, B panel, float* c, int ldc, bool add, int mr, int nr, float* tile)
        where R : struct, IRows where B : struct, IBPanel
    {
        var z = Vector256<float>.Zero;
        Vector256<float> c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
        Vector256<float> c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
        int last = mr - 1;
        float* a0 = a, a1 = a + Math.Min(1, last) * rs, a2 = a + Math.Min(2, last) * rs;
        float* a3 = a + Math.Min(3, last) * rs, a4 = a + Math.Min(4, last) * rs, a5 = a + Math.Min(5, last) * rs;
        nint o = 0;
        for (int p = 0; p < kc; p++)
        {
            float* b = panel.Row(p);
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            Vector256<float> x;
            if (R.N > 0) { x = Vector256.Create(a0[o]); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01); }
            if (R.N > 1) { x = Vector256.Create(a1[o]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11); }
            if (R.N > 2) { x = Vector256.Create(a2[o]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21); }
            if (R.N > 3) { x = Vector256.Create(a3[o]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31); }
            if (R.N > 4) { x = Vector256.Create(a4[o]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41); }
            if (R.N > 5) { x = Vector256.Create(a5[o]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51); }
            o += ps;
        }

        bool full = mr == R.N && nr == NR256;
        float* d = full ? c : tile;
        int ld = full ? ldc : NR256;
        bool addHere = full && add;
        if (R.N > 0) { Put(c00, d, addHere); Put(c01, d + 8, addHere); d += ld; }
        if (R.N > 1) { Put(c10, d, addHere); Put(c11, d + 8, addHere); d += ld; }
        if (R.N > 2) { Put(c20, d, addHere); Put(c21, d + 8, addHere); d += ld; }
        if (R.N > 3) { Put(c30, d, addHere); Put(c31, d + 8, addHere); d += ld; }
        if (R.N > 4) { Put(c40, d, addHere); Put(c41, d + 8, addHere); d += ld; }
        if (R.N > 5) { Put(c50, d, addHere); Put(c51, d + 8, addHere); }
        if (!full) CopyTile(tile, NR256, c, ldc, mr, nr, add);
    }

    /// <summary>Up-to-12 x 16 variant of <see cref="Kernel512{R, B}"/> for a last panel of at most 16 columns.</summary>
    /// <remarks>
    /// A width that just spills over a multiple of NR would otherwise run a full tile for a few columns.
    /// A packed panel keeps its NR stride; only its first NR/2 columns are read.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel512Half<R, B>(int kc, float* a, nint rs, nint ps, B b, float* c, int ldc, bool add, int mr, int nr, float* tile)
        where R : struct, IRows where B : struct, IBPanel
    {
        int last = mr - 1;
        float* a0 = a + Math.Min(0, last) * rs;
        float* a1 = a + Math.Min(1, last) * rs;
        float* a2 = a + Math.Min(2, last) * rs;
        float* a3 = a + Math.Min(3, last) * rs;
        float* a4 = a + Math.Min(4, last) * rs;
        float* a5 = a + Math.Min(5, last) * rs;
        float* a6 = a + Math.Min(6, last) * rs;
        float* a7 = a + Math.Min(7, last) * rs;
        float* a8 = a + Math.Min(8, last) * rs;
        float* a9 = a + Math.Min(9, last) * rs;
        float* a10 = a + Math.Min(10, last) * rs;
        float* a11 = a + Math.Min(11, last) * rs;
        nint o = 0;
        var z = Vector512<float>.Zero;
        Vector512<float> c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z, c6 = z, c7 = z, c8 = z, c9 = z, c10 = z, c11 = z;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b.Row(p));
            if (R.N > 0) c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[o]), b0, c0);
            if (R.N > 1) c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a1[o]), b0, c1);
            if (R.N > 2) c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a2[o]), b0, c2);
            if (R.N > 3) c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a3[o]), b0, c3);
            if (R.N > 4) c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[o]), b0, c4);
            if (R.N > 5) c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a5[o]), b0, c5);
            if (R.N > 6) c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a6[o]), b0, c6);
            if (R.N > 7) c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a7[o]), b0, c7);
            if (R.N > 8) c8 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[o]), b0, c8);
            if (R.N > 9) c9 = Vector512.FusedMultiplyAdd(Vector512.Create(a9[o]), b0, c9);
            if (R.N > 10) c10 = Vector512.FusedMultiplyAdd(Vector512.Create(a10[o]), b0, c10);
            if (R.N > 11) c11 = Vector512.FusedMultiplyAdd(Vector512.Create(a11[o]), b0, c11);
            o += ps;
        }
        bool full = mr == R.N && nr == NR512 / 2;
        float* d = full ? c : tile;
        int ld = full ? ldc : NR512 / 2;
        bool addHere = full && add;
        if (R.N > 0) { Put(c0, d, addHere); d += ld; }
        if (R.N > 1) { Put(c1, d, addHere); d += ld; }
        if (R.N > 2) { Put(c2, d, addHere); d += ld; }
        if (R.N > 3) { Put(c3, d, addHere); d += ld; }
        if (R.N > 4) { Put(c4, d, addHere); d += ld; }
        if (R.N > 5) { Put(c5, d, addHere); d += ld; }
        if (R.N > 6) { Put(c6, d, addHere); d += ld; }
        if (R.N > 7) { Put(c7, d, addHere); d += ld; }
        if (R.N > 8) { Put(c8, d, addHere); d += ld; }
        if (R.N > 9) { Put(c9, d, addHere); d += ld; }
        if (R.N > 10) { Put(c10, d, addHere); d += ld; }
        if (R.N > 11) { Put(c11, d, addHere); d += ld; }
        if (!full) CopyTile(tile, NR512 / 2, c, ldc, mr, nr, add);
    }

    /// <summary>Up-to-6 x 8 variant of <see cref="Kernel256{R, B}"/> for a last panel of at most 8 columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel256Half<R, B>(int kc, float* a, nint rs, nint ps, B panel, float* c, int ldc, bool add, int mr, int nr, float* tile)
        where R : struct, IRows where B : struct, IBPanel
    {
        int last = mr - 1;
        float* a0 = a, a1 = a + Math.Min(1, last) * rs, a2 = a + Math.Min(2, last) * rs;
        float* a3 = a + Math.Min(3, last) * rs, a4 = a + Math.Min(4, last) * rs, a5 = a + Math.Min(5, last) * rs;
        nint o = 0;
        var z = Vector256<float>.Zero;
        Vector256<float> c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(panel.Row(p));
            if (R.N > 0) c0 = Vector256.FusedMultiplyAdd(Vector256.Create(a0[o]), b0, c0);
            if (R.N > 1) c1 = Vector256.FusedMultiplyAdd(Vector256.Create(a1[o]), b0, c1);
            if (R.N > 2) c2 = Vector256.FusedMultiplyAdd(Vector256.Create(a2[o]), b0, c2);
            if (R.N > 3) c3 = Vector256.FusedMultiplyAdd(Vector256.Create(a3[o]), b0, c3);
            if (R.N > 4) c4 = Vector256.FusedMultiplyAdd(Vector256.Create(a4[o]), b0, c4);
            if (R.N > 5) c5 = Vector256.FusedMultiplyAdd(Vector256.Create(a5[o]), b0, c5);
            o += ps;
        }
        float* t = tile;
        if (R.N > 0) c0.Store(t);
        if (R.N > 1) c1.Store(t + 8);
        if (R.N > 2) c2.Store(t + 16);
        if (R.N > 3) c3.Store(t + 24);
        if (R.N > 4) c4.Store(t + 32);
        if (R.N > 5) c5.Store(t + 40);
        CopyTile(tile, 8, c, ldc, mr, nr, add);
    }

    /// <summary>4 x 4 tile without vectors, for hardware with neither Vector512 nor Vector256 FMA.</summary>
    /// <remarks>Plain multiply and add: without FMA hardware, MathF.FusedMultiplyAdd is a slow library call.</remarks>
    public static void KernelScalar(int kc, float* a, nint rs, nint ps, StridedB panel, float* c, int ldc, bool add, int mr, int nr, float* tile)
    {
        float* b = panel.Ptr;
        nint bs = panel.Step;
        int last = mr - 1;
        float* a0 = a, a1 = a + Math.Min(1, last) * rs, a2 = a + Math.Min(2, last) * rs, a3 = a + Math.Min(3, last) * rs;
        nint o = 0;
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            float x = a0[o];
            c00 += x * b0; c01 += x * b1;
            c02 += x * b2; c03 += x * b3;
            x = a1[o];
            c10 += x * b0; c11 += x * b1;
            c12 += x * b2; c13 += x * b3;
            x = a2[o];
            c20 += x * b0; c21 += x * b1;
            c22 += x * b2; c23 += x * b3;
            x = a3[o];
            c30 += x * b0; c31 += x * b1;
            c32 += x * b2; c33 += x * b3;
            o += ps;
            b += bs;
        }
        float* t = tile;
        t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03;
        t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
        t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23;
        t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
        CopyTile(tile, NRScalar, c, ldc, mr, nr, add);
    }

    /// <summary>
    /// A Vector512 tile of <paramref name="mr"/> (1..12) rows: the kernel specialised on that row count, so no
    /// multiply-adds are spent on rows that are not there (the last rows of C), reading B from <paramref name="b"/>.
    /// </summary>
    public static void Tile<B>(bool half, int kc, float* a, nint rs, nint ps, B b, float* c, int ldc, bool add, int mr, int nr, float* tile)
        where B : struct, IBPanel
    {
        switch (mr)
        {
            case 1: if (half) Kernel512Half<R1, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel512<R1, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 2: if (half) Kernel512Half<R2, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel512<R2, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 3: if (half) Kernel512Half<R3, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel512<R3, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 4: if (half) Kernel512Half<R4, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel512<R4, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 5: if (half) Kernel512Half<R5, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel512<R5, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 6: if (half) Kernel512Half<R6, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel512<R6, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 7: if (half) Kernel512Half<R7, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel512<R7, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 8: if (half) Kernel512Half<R8, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel512<R8, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 9: if (half) Kernel512Half<R9, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel512<R9, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 10: if (half) Kernel512Half<R10, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel512<R10, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 11: if (half) Kernel512Half<R11, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel512<R11, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 12: if (half) Kernel512Half<R12, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel512<R12, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            default: throw new ArgumentOutOfRangeException(nameof(mr), $"tile rows {mr} outside 1..12");
        }
    }

    /// <summary>
    /// Computes an up to 6 x 16 tile (<paramref name="half"/>: at most 8 columns) with the Vector256 kernel compiled for
    /// its row count <paramref name="mr"/>.
    /// </summary>
    public static void Tile256<B>(bool half, int kc, float* a, nint rs, nint ps, B b, float* c, int ldc, bool add, int mr, int nr, float* tile)
        where B : struct, IBPanel
    {
        switch (mr)
        {
            case 1: if (half) Kernel256Half<R1, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel256<R1, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 2: if (half) Kernel256Half<R2, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel256<R2, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 3: if (half) Kernel256Half<R3, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel256<R3, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 4: if (half) Kernel256Half<R4, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel256<R4, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 5: if (half) Kernel256Half<R5, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel256<R5, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            case 6: if (half) Kernel256Half<R6, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); else Kernel256<R6, B>(kc, a, rs, ps, b, c, ldc, add, mr, nr, tile); break;
            default: throw new ArgumentOutOfRangeException(nameof(mr), $"tile rows {mr} outside 1..6");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Put(Vector512<float> v, float* p, bool add)
    {
        if (add) v += Vector512.Load(p);
        v.Store(p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(Vector256<float> v, float* p, bool add)
    {
        if (add) v += Vector256.Load(p);
        v.Store(p);
    }

    internal static void CopyTile(float* tile, int ldt, float* c, int ldc, int mr, int nr, bool add)
    {
        for (int r = 0; r < mr; r++)
        {
            float* s = tile + r * ldt;
            float* d = c + (long)r * ldc;
            if (add) for (int j = 0; j < nr; j++) d[j] += s[j];
            else for (int j = 0; j < nr; j++) d[j] = s[j];
        }
    }

    /// <summary>
    /// Packs rows [i0, i0+mc) x depth [p0, p0+kc) of op(A) into MR-row micro-panels: panel q holds, for each
    /// depth step, the MR values of rows i0+q*MR.. (zero past the last row).
    /// </summary>
    public static void PackA(bool transA, float* a, int lda, int i0, int mc, int p0, int kc, int mr, float* dst)
    {
        float** rows = stackalloc float*[16];
        for (int q = 0; q < mc; q += mr)
        {
            int valid = Math.Min(mr, mc - q);
            if (transA)
            {
                // Stored k x m: each depth step is already a contiguous run of rows.
                float* src = a + (long)p0 * lda + i0 + q;
                for (int p = 0; p < kc; p++, src += lda, dst += mr)
                {
                    int r = 0;
                    for (; r < valid; r++) dst[r] = src[r];
                    for (; r < mr; r++) dst[r] = 0f;
                }
            }
            else if (valid == mr)
            {
                // Read mr rows side by side so the writes stay sequential.
                for (int r = 0; r < mr; r++) rows[r] = a + (long)(i0 + q + r) * lda + p0;
                if (mr == MR256) PackRows6(rows, kc, dst);
                else if (mr == MR512) PackRows12(rows, kc, dst);
                else
                    for (int p = 0; p < kc; p++)
                        for (int r = 0; r < mr; r++) dst[p * mr + r] = rows[r][p];
                dst += kc * mr;
            }
            else
            {
                for (int r = 0; r < mr; r++) rows[r] = a + (long)(i0 + q + Math.Min(r, valid - 1)) * lda + p0;
                for (int p = 0; p < kc; p++, dst += mr)
                {
                    int r = 0;
                    for (; r < valid; r++) dst[r] = rows[r][p];
                    for (; r < mr; r++) dst[r] = 0f;
                }
            }
        }
    }

    private static void PackRows6(float** rows, int kc, float* dst)
    {
        float* r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3], r4 = rows[4], r5 = rows[5];
        for (int p = 0; p < kc; p++, dst += 6)
        {
            dst[0] = r0[p]; dst[1] = r1[p]; dst[2] = r2[p]; dst[3] = r3[p]; dst[4] = r4[p]; dst[5] = r5[p];
        }
    }

    private static void PackRows12(float** rows, int kc, float* dst)
    {
        float* r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3], r4 = rows[4], r5 = rows[5];
        float* r6 = rows[6], r7 = rows[7], r8 = rows[8], r9 = rows[9], r10 = rows[10], r11 = rows[11];
        for (int p = 0; p < kc; p++, dst += 12)
        {
            dst[0] = r0[p]; dst[1] = r1[p]; dst[2] = r2[p]; dst[3] = r3[p]; dst[4] = r4[p]; dst[5] = r5[p];
            dst[6] = r6[p]; dst[7] = r7[p]; dst[8] = r8[p]; dst[9] = r9[p]; dst[10] = r10[p]; dst[11] = r11[p];
        }
    }

    /// <summary>
    /// Packs depth [p0, p0+kc) x columns [j0, j0+nc) of op(B) into NR-column micro-panels: panel q holds, for
    /// each depth step, the NR values of columns j0+q*NR.. (zero past the last column).
    /// </summary>
    public static void PackB(bool transB, float* b, int ldb, int p0, int kc, int j0, int nc, int nr, float* dst)
    {
        for (int q = 0; q < nc; q += nr, dst += kc * nr)
        {
            int cols = Math.Min(nr, nc - q);
            if (!transB)
            {
                float* src = b + (long)p0 * ldb + j0 + q;
                if (cols == nr && nr % 8 == 0) CopyRows(src, ldb, kc, nr, dst);
                else
                {
                    float* d = dst;
                    for (int p = 0; p < kc; p++, src += ldb, d += nr)
                    {
                        int j = 0;
                        for (; j < cols; j++) d[j] = src[j];
                        for (; j < nr; j++) d[j] = 0f;
                    }
                }
            }
            else
            {
                // Stored n x k: column j of op(B) is row j of storage, contiguous in depth. Groups of 8 columns
                // go through 8x8 transposes; leftover columns and the depth tail are copied one by one.
                float* src = b + (long)(j0 + q) * ldb + p0;
                int vecCols = Avx.IsSupported ? cols / 8 * 8 : 0, vecDepth = kc / 8 * 8;
                for (int jj = 0; jj < vecCols; jj += 8)
                    for (int p = 0; p < vecDepth; p += 8)
                        Transpose8x8(src + (long)jj * ldb + p, ldb, dst + (long)p * nr + jj, nr);
                for (int j = 0; j < cols; j++)
                {
                    float* s = src + (long)j * ldb;
                    float* d = dst + j;
                    for (int pp = j < vecCols ? vecDepth : 0; pp < kc; pp++) d[(long)pp * nr] = s[pp];
                }
                for (int j = cols; j < nr; j++)
                {
                    float* d = dst + j;
                    for (int pp = 0; pp < kc; pp++, d += nr) *d = 0f;
                }
            }
        }
    }

    /// <summary>
    /// Asks for one cache line at the start of each of <paramref name="rows"/> rows (stride ld) to be
    /// brought towards L2. Used on the next B panel while the current one computes: its rows lie a whole
    /// row of B apart, too many streams for the hardware prefetcher to follow.
    /// </summary>
    public static void PrefetchRows(float* p, int ld, int rows)
    {
        if (!Sse.IsSupported) return;
        for (int r = 0; r < rows; r++, p += ld) Sse.Prefetch1(p);
    }

    private static void CopyRows(float* src, int ld, int rows, int width, float* dst)
    {
        if (width == 16)
        {
            for (int p = 0; p < rows; p++, src += ld, dst += 16)
            {
                Vector256.Load(src).Store(dst);
                Vector256.Load(src + 8).Store(dst + 8);
            }
            return;
        }
        for (int p = 0; p < rows; p++, src += ld, dst += width)
            for (int j = 0; j < width; j += 8) Vector256.Load(src + j).Store(dst + j);
    }

    // Reads 8 rows of 8 (stride ld) and writes them transposed (stride ldd): the standard AVX
    // unpack / shuffle / lane-permute sequence, 24 shuffles per 64 values instead of 64 scalar moves.
    private static void Transpose8x8(float* s, int ld, float* d, int ldd)
    {
        var r0 = Avx.LoadVector256(s);
        var r1 = Avx.LoadVector256(s + ld);
        var r2 = Avx.LoadVector256(s + 2 * (long)ld);
        var r3 = Avx.LoadVector256(s + 3 * (long)ld);
        var r4 = Avx.LoadVector256(s + 4 * (long)ld);
        var r5 = Avx.LoadVector256(s + 5 * (long)ld);
        var r6 = Avx.LoadVector256(s + 6 * (long)ld);
        var r7 = Avx.LoadVector256(s + 7 * (long)ld);
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2 * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3 * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4 * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5 * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6 * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7 * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }
}
