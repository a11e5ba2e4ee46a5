using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// Vector512 micro-kernels whose B operand is given row by row: depth step p of the panel starting at column
/// <c>col</c> is <c>rows[p] + col</c>. Used by <see cref="Gemm.MultiplyRows"/>, where the rows are shifted
/// views of a padded image, so a convolution reads its input in place instead of through an im2col copy.
/// Otherwise as <see cref="GemmKernels.Kernel512{R}"/> (A packed: row r at depth p is a[r*rs + p*ps]).
/// </summary>
[SkipLocalsInit]
internal static unsafe class GemmRowKernels
{
    /// <summary>Up to 12 x 32 tile, B by row pointers, specialised on the row count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void KernelRows<R>(int kc, float* a, nint rs, nint ps, float** rows, nint col, float* c, int ldc, bool add, int mr, int nr, float* tile)
        where R : struct, GemmKernels.IRows
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
            float* b = rows[p] + col;
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
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
        bool full = mr == R.N && nr == 32;
        float* d = full ? c : tile;
        int ld = full ? ldc : 32;
        bool addHere = full && add;
        if (R.N > 0) { GemmKernels.Put(c00, d, addHere); GemmKernels.Put(c01, d + 16, addHere); d += ld; }
        if (R.N > 1) { GemmKernels.Put(c10, d, addHere); GemmKernels.Put(c11, d + 16, addHere); d += ld; }
        if (R.N > 2) { GemmKernels.Put(c20, d, addHere); GemmKernels.Put(c21, d + 16, addHere); d += ld; }
        if (R.N > 3) { GemmKernels.Put(c30, d, addHere); GemmKernels.Put(c31, d + 16, addHere); d += ld; }
        if (R.N > 4) { GemmKernels.Put(c40, d, addHere); GemmKernels.Put(c41, d + 16, addHere); d += ld; }
        if (R.N > 5) { GemmKernels.Put(c50, d, addHere); GemmKernels.Put(c51, d + 16, addHere); d += ld; }
        if (R.N > 6) { GemmKernels.Put(c60, d, addHere); GemmKernels.Put(c61, d + 16, addHere); d += ld; }
        if (R.N > 7) { GemmKernels.Put(c70, d, addHere); GemmKernels.Put(c71, d + 16, addHere); d += ld; }
        if (R.N > 8) { GemmKernels.Put(c80, d, addHere); GemmKernels.Put(c81, d + 16, addHere); d += ld; }
        if (R.N > 9) { GemmKernels.Put(c90, d, addHere); GemmKernels.Put(c91, d + 16, addHere); d += ld; }
        if (R.N > 10) { GemmKernels.Put(c100, d, addHere); GemmKernels.Put(c101, d + 16, addHere); d += ld; }
        if (R.N > 11) { GemmKernels.Put(c110, d, addHere); GemmKernels.Put(c111, d + 16, addHere); d += ld; }
        if (!full) GemmKernels.CopyTile(tile, 32, c, ldc, mr, nr, add);
    }

    /// <summary>Up to 12 x 16 tile, B by row pointers, specialised on the row count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void KernelRowsHalf<R>(int kc, float* a, nint rs, nint ps, float** rows, nint col, float* c, int ldc, bool add, int mr, int nr, float* tile)
        where R : struct, GemmKernels.IRows
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
        Vector512<float> c00 = z, c10 = z, c20 = z, c30 = z, c40 = z, c50 = z, c60 = z, c70 = z, c80 = z, c90 = z, c100 = z, c110 = z;
        for (int p = 0; p < kc; p++)
        {
            float* b = rows[p] + col;
            var b0 = Vector512.Load(b);
            Vector512<float> x;
            if (R.N > 0) { x = Vector512.Create(a0[o]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); }
            if (R.N > 1) { x = Vector512.Create(a1[o]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); }
            if (R.N > 2) { x = Vector512.Create(a2[o]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); }
            if (R.N > 3) { x = Vector512.Create(a3[o]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); }
            if (R.N > 4) { x = Vector512.Create(a4[o]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); }
            if (R.N > 5) { x = Vector512.Create(a5[o]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); }
            if (R.N > 6) { x = Vector512.Create(a6[o]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); }
            if (R.N > 7) { x = Vector512.Create(a7[o]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); }
            if (R.N > 8) { x = Vector512.Create(a8[o]); c80 = Vector512.FusedMultiplyAdd(x, b0, c80); }
            if (R.N > 9) { x = Vector512.Create(a9[o]); c90 = Vector512.FusedMultiplyAdd(x, b0, c90); }
            if (R.N > 10) { x = Vector512.Create(a10[o]); c100 = Vector512.FusedMultiplyAdd(x, b0, c100); }
            if (R.N > 11) { x = Vector512.Create(a11[o]); c110 = Vector512.FusedMultiplyAdd(x, b0, c110); }
            o += ps;
        }
        bool full = mr == R.N && nr == 16;
        float* d = full ? c : tile;
        int ld = full ? ldc : 16;
        bool addHere = full && add;
        if (R.N > 0) { GemmKernels.Put(c00, d, addHere); d += ld; }
        if (R.N > 1) { GemmKernels.Put(c10, d, addHere); d += ld; }
        if (R.N > 2) { GemmKernels.Put(c20, d, addHere); d += ld; }
        if (R.N > 3) { GemmKernels.Put(c30, d, addHere); d += ld; }
        if (R.N > 4) { GemmKernels.Put(c40, d, addHere); d += ld; }
        if (R.N > 5) { GemmKernels.Put(c50, d, addHere); d += ld; }
        if (R.N > 6) { GemmKernels.Put(c60, d, addHere); d += ld; }
        if (R.N > 7) { GemmKernels.Put(c70, d, addHere); d += ld; }
        if (R.N > 8) { GemmKernels.Put(c80, d, addHere); d += ld; }
        if (R.N > 9) { GemmKernels.Put(c90, d, addHere); d += ld; }
        if (R.N > 10) { GemmKernels.Put(c100, d, addHere); d += ld; }
        if (R.N > 11) { GemmKernels.Put(c110, d, addHere); d += ld; }
        if (!full) GemmKernels.CopyTile(tile, 16, c, ldc, mr, nr, add);
    }

    /// <summary>A tile of <paramref name="mr"/> (1..12) rows: the kernel specialised on that row count.</summary>
    public static void Tile(bool half, int kc, float* a, nint rs, nint ps, float** rows, nint col, float* c, int ldc, bool add, int mr, int nr, float* tile)
    {
        switch (mr)
        {
            case 1: if (half) KernelRowsHalf<GemmKernels.R1>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); else KernelRows<GemmKernels.R1>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); break;
            case 2: if (half) KernelRowsHalf<GemmKernels.R2>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); else KernelRows<GemmKernels.R2>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); break;
            case 3: if (half) KernelRowsHalf<GemmKernels.R3>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); else KernelRows<GemmKernels.R3>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); break;
            case 4: if (half) KernelRowsHalf<GemmKernels.R4>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); else KernelRows<GemmKernels.R4>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); break;
            case 5: if (half) KernelRowsHalf<GemmKernels.R5>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); else KernelRows<GemmKernels.R5>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); break;
            case 6: if (half) KernelRowsHalf<GemmKernels.R6>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); else KernelRows<GemmKernels.R6>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); break;
            case 7: if (half) KernelRowsHalf<GemmKernels.R7>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); else KernelRows<GemmKernels.R7>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); break;
            case 8: if (half) KernelRowsHalf<GemmKernels.R8>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); else KernelRows<GemmKernels.R8>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); break;
            case 9: if (half) KernelRowsHalf<GemmKernels.R9>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); else KernelRows<GemmKernels.R9>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); break;
            case 10: if (half) KernelRowsHalf<GemmKernels.R10>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); else KernelRows<GemmKernels.R10>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); break;
            case 11: if (half) KernelRowsHalf<GemmKernels.R11>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); else KernelRows<GemmKernels.R11>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); break;
            case 12: if (half) KernelRowsHalf<GemmKernels.R12>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); else KernelRows<GemmKernels.R12>(kc, a, rs, ps, rows, col, c, ldc, add, mr, nr, tile); break;
            default: throw new ArgumentOutOfRangeException(nameof(mr), $"tile rows {mr} outside 1..12");
        }
    }
}
