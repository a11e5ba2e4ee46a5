using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Lopper.Tensors.Kernels;

/// <summary>Single-precision matrix multiply, row-major.</summary>
/// <remarks>
/// Goto-style blocking: B is packed into NR-column panels of KC x NC blocks, A into MR-row panels of MC x KC
/// blocks, and a register-blocked micro-kernel runs over the panels. Transposes are absorbed by the packing.
/// Threads take disjoint blocks of C and never split the k reduction, and each element of C is computed by
/// the same operation sequence wherever it falls, so results do not depend on the thread count.
/// </remarks>
[SkipLocalsInit]
public static unsafe class Gemm
{
    /// <summary>Which micro-kernel family runs; <see cref="Auto"/> picks the widest the hardware accelerates.</summary>
    internal enum KernelPath { Auto, Vector512, Vector256, Scalar }

    /// <summary>Test hook: forces a kernel family (a vector path without hardware support is emulated, slowly).</summary>
    internal static KernelPath ForcedPath { get; set; } = KernelPath.Auto;

    // Below this many multiply-adds, packing and blocking cost more than they save.
    private const long DirectWork = 4096;

    // Below this many multiply-adds, waking a second thread costs more than it saves.
    internal static long ParallelWork = 1L << 20;

    private readonly record struct Plan(KernelPath Path, int MR, int NR, int KC, int MC, int NC);

    /// <summary>
    /// C[m,n] = (accumulate ? C[m,n] : 0) + sum_k op(A)[m,k] * op(B)[k,n], where op(A) is A (m x k, row
    /// stride lda) or, when <paramref name="transA"/>, A stored as k x m; likewise B (k x n, or n x k when
    /// <paramref name="transB"/>). Uses up to <see cref="Parallelism.Threads"/> threads.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"negative GEMM size {m}x{n}x{k}");
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) new Span<float>(c + (long)i * ldc, n).Clear();
            return;
        }
        long work = (long)m * n * k;
        if (work <= DirectWork)
        {
            Direct(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }
        var plan = PlanFor(ResolvePath());
        int threads = Parallelism.InParallelRegion || work < ParallelWork ? 1 : Parallelism.Threads;
        if (threads <= 1)
            Blocked(plan, transA, transB, 0, m, 0, n, k, a, lda, b, ldb, c, ldc, accumulate);
        else
            Split(plan, threads, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    }

    private static KernelPath ResolvePath()
    {
        if (ForcedPath != KernelPath.Auto) return ForcedPath;
        if (Vector512.IsHardwareAccelerated) return KernelPath.Vector512;
        if (Vector256.IsHardwareAccelerated) return KernelPath.Vector256;
        return KernelPath.Scalar;
    }

    // KC keeps a B micro-panel (KC x NR) in L1 next to the A micro-panel; MC keeps the packed A block
    // (MC x KC) in L2; NC bounds the packed B block (KC x NC) to a slice of L3.
    private static Plan PlanFor(KernelPath path) => path switch
    {
        KernelPath.Vector512 => new Plan(path, GemmKernels.MR512, GemmKernels.NR512, 256, 144, 2048),
        KernelPath.Vector256 => new Plan(path, GemmKernels.MR256, GemmKernels.NR256, KC256, MC256, NC256),
        _ => new Plan(KernelPath.Scalar, GemmKernels.MRScalar, GemmKernels.NRScalar, 256, 128, 1024),
    };

    // Splits C into one block per thread along the longer side; each thread packs its own panels, so the
    // only duplicated work is packing the shorter side's operand once per thread.
    private static void Split(Plan plan, int threads, bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        int mPanels = (m + plan.MR - 1) / plan.MR, nPanels = (n + plan.NR - 1) / plan.NR;
        bool alongN = nPanels >= mPanels;
        int unit = alongN ? plan.NR : plan.MR;
        int panels = alongN ? nPanels : mPanels;
        int chunks = Math.Min(threads * ChunkMul, panels);
        if (chunks <= 1)
        {
            Blocked(plan, transA, transB, 0, m, 0, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }
        nint ap = (nint)a, bp = (nint)b, cp = (nint)c;
        Parallelism.For(chunks, t =>
        {
            int lo = (int)((long)panels * t / chunks) * unit;
            int hi = (int)Math.Min((long)panels * (t + 1) / chunks * unit, alongN ? n : m);
            if (alongN)
                Blocked(plan, transA, transB, 0, m, lo, hi, k, (float*)ap, lda, (float*)bp, ldb, (float*)cp, ldc, accumulate);
            else
                Blocked(plan, transA, transB, lo, hi, 0, n, k, (float*)ap, lda, (float*)bp, ldb, (float*)cp, ldc, accumulate);
        });
    }

    // Block sizes are evened out (300 = 150 + 150 rather than 256 + 44) so no block runs a stub loop.
    private static int Even(int total, int max, int align)
    {
        int blocks = (total + max - 1) / max;
        int size = (total + blocks - 1) / blocks;
        return (size + align - 1) / align * align;
    }

    private static void Blocked(Plan plan, bool transA, bool transB, int m0, int m1, int n0, int n1, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        int mr = plan.MR, nr = plan.NR;
        int kc = Even(k, plan.KC, 1);
        int mc = Even(m1 - m0, plan.MC, mr);
        int nc = Even(n1 - n0, plan.NC, nr);
        bool directA = DirectAMode == 1 || (DirectAMode == 2 && (transA ? (n1 - n0 <= 128 || kc <= 64) : n1 - n0 <= 512));
        bool fuseB = FuseMode == 1 || (FuseMode == 2 && m1 - m0 <= mc);
        float* packA = directA ? null : Buffers.A(mc * kc);
        float* packB = Buffers.B((fuseB ? nr : nc) * kc);
        float* tile = stackalloc float[GemmKernels.MR512 * GemmKernels.NR512];
        for (int jc = n0; jc < n1; jc += nc)
        {
            int ncur = Math.Min(nc, n1 - jc);
            for (int pc = 0; pc < k; pc += kc)
            {
                int kcur = Math.Min(kc, k - pc);
                if (!fuseB) GemmKernels.PackB(transB, b, ldb, pc, kcur, jc, ncur, nr, packB);
                bool add = accumulate || pc > 0;
                for (int ic = m0; ic < m1; ic += mc)
                {
                    int mcur = Math.Min(mc, m1 - ic);
                    float* cb = c + (long)ic * ldc + jc;
                    float* pa;
                    nint rowStep, rs, ps;
                    if (!directA)
                    {
                        GemmKernels.PackA(transA, a, lda, ic, mcur, pc, kcur, mr, packA);
                        pa = packA; rowStep = kcur; rs = 1; ps = mr;
                    }
                    else if (transA) { pa = a + (long)pc * lda + ic; rowStep = 1; rs = 1; ps = lda; }
                    else { pa = a + (long)ic * lda + pc; rowStep = lda; rs = lda; ps = 1; }
                    if (!fuseB)
                    {
                        Macro(plan.Path, mcur, ncur, kcur, pa, rowStep, rs, ps, packB, cb, ldc, add, tile);
                        continue;
                    }
                    for (int j = 0; j < ncur; j += nr)
                    {
                        int ncols = Math.Min(nr, ncur - j);
                        GemmKernels.PackB(transB, b, ldb, pc, kcur, jc + j, ncols, nr, packB);
                        Macro(plan.Path, mcur, ncols, kcur, pa, rowStep, rs, ps, packB, cb + j, ldc, add, tile);
                    }
                }
            }
        }
    }

    internal static int DirectAMode = int.Parse(Environment.GetEnvironmentVariable("GEMM_DIRECTA") ?? "2");
    internal static int DirectANMax = int.Parse(Environment.GetEnvironmentVariable("GEMM_DIRECTN") ?? "8");
    internal static int FuseMode = int.Parse(Environment.GetEnvironmentVariable("GEMM_FUSE") ?? "2");
    internal static int ChunkMul = 1;
    internal static int HalfMode = 1;
    internal static int UnrollMode = 0;
    internal static int KC256 = 512, MC256 = 144, NC256 = 2048;

    // One loop nest per path so the kernel call is direct. The B micro-panel is the outer loop so it stays
    // in L1 while the A micro-panels stream past it from L2.
    private static void Macro(KernelPath path, int mc, int nc, int kc, float* pa, nint rowStep, nint rs, nint ps, float* pb, float* c, int ldc, bool add, float* tile)
    {
        switch (path)
        {
            case KernelPath.Vector512:
                for (int j = 0; j < nc; j += GemmKernels.NR512)
                {
                    int nr = Math.Min(GemmKernels.NR512, nc - j);
                    float* bj = pb + (long)j * kc;
                    if (nr <= GemmKernels.NR512 / 2)
                        for (int i = 0; i < mc; i += GemmKernels.MR512)
                            GemmKernels.Kernel512Half(kc, pa + i * rowStep, rs, ps, bj, c + (long)i * ldc + j, ldc, add,
                                Math.Min(GemmKernels.MR512, mc - i), nr, tile);
                    else
                    for (int i = 0; i < mc; i += GemmKernels.MR512)
                        GemmKernels.Kernel512(kc, pa + i * rowStep, rs, ps, bj, c + (long)i * ldc + j, ldc, add,
                            Math.Min(GemmKernels.MR512, mc - i), nr, tile);
                }
                break;
            case KernelPath.Vector256:
                for (int j = 0; j < nc; j += GemmKernels.NR256)
                {
                    int nr = Math.Min(GemmKernels.NR256, nc - j);
                    float* bj = pb + (long)j * kc;
                    if (HalfMode == 1 && nr <= GemmKernels.NR256 / 2)
                        for (int i = 0; i < mc; i += GemmKernels.MR256)
                            GemmKernels.Kernel256Half(kc, pa + i * rowStep, rs, ps, bj, c + (long)i * ldc + j, ldc, add,
                                Math.Min(GemmKernels.MR256, mc - i), nr, tile);
                    else
                    for (int i = 0; i < mc; i += GemmKernels.MR256)
                        GemmKernels.Kernel256(kc, pa + i * rowStep, rs, ps, bj, c + (long)i * ldc + j, ldc, add,
                            Math.Min(GemmKernels.MR256, mc - i), nr, tile);
                }
                break;
            default:
                for (int j = 0; j < nc; j += GemmKernels.NRScalar)
                {
                    int nr = Math.Min(GemmKernels.NRScalar, nc - j);
                    float* bj = pb + (long)j * kc;
                    for (int i = 0; i < mc; i += GemmKernels.MRScalar)
                        GemmKernels.KernelScalar(kc, pa + i * rowStep, rs, ps, bj, c + (long)i * ldc + j, ldc, add,
                            Math.Min(GemmKernels.MRScalar, mc - i), nr, tile);
                }
                break;
        }
    }

    // Tiny products: straight loops, no packing, no threads.
    private static void Direct(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            float* crow = c + (long)i * ldc;
            if (!transB)
            {
                var row = new Span<float>(crow, n);
                if (!accumulate) row.Clear();
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[(long)p * lda + i] : a[(long)i * lda + p];
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(b + (long)p * ldb, n), av, row, row);
                }
            }
            else
            {
                for (int j = 0; j < n; j++)
                {
                    float* bj = b + (long)j * ldb;
                    float s = 0f;
                    if (transA)
                        for (int p = 0; p < k; p++) s = MathF.FusedMultiplyAdd(a[(long)p * lda + i], bj[p], s);
                    else
                    {
                        float* ai = a + (long)i * lda;
                        for (int p = 0; p < k; p++) s = MathF.FusedMultiplyAdd(ai[p], bj[p], s);
                    }
                    crow[j] = accumulate ? crow[j] + s : s;
                }
            }
        }
    }

    // Per-thread packing buffers, pinned and 64-byte aligned, grown on demand and kept for the thread's
    // life: steady-state calls allocate nothing.
    private static class Buffers
    {
        [ThreadStatic] private static float[]? _a;
        [ThreadStatic] private static float[]? _b;

        public static float* A(int floats) => Get(ref _a, floats);

        public static float* B(int floats) => Get(ref _b, floats);

        private static float* Get(ref float[]? buffer, int floats)
        {
            if (buffer is null || buffer.Length < floats + 16)
                buffer = GC.AllocateUninitializedArray<float>(Math.Max(floats + 16, (buffer?.Length ?? 0) * 3 / 2), pinned: true);
            nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
            return (float*)((p + 63) & ~(nint)63);
        }
    }
}
