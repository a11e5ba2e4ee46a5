using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>Single-precision matrix multiply, row-major.</summary>
/// <remarks>
/// Goto-style blocking: B is packed into NR-column panels of KC x NC blocks, A into MR-row panels of MC x KC
/// blocks (or, for narrow C, read in place), and a register-blocked micro-kernel (GemmKernels) runs over
/// the panels. Transposes are absorbed by the packing and the kernels' strides, never copied separately.
/// Threads take disjoint blocks of C and never split the k reduction, and each element of C is computed by
/// the same operation sequence wherever it falls, so results do not depend on the thread count. Packing
/// buffers are per thread and reused, so steady-state calls allocate nothing on one thread.
/// </remarks>
[SkipLocalsInit]
internal static unsafe partial class Gemm
{
    /// <summary>Which micro-kernel family runs; <see cref="Auto"/> picks the widest the hardware accelerates.</summary>
    internal enum KernelPath { Auto, Vector512, Vector256, Scalar }

    /// <summary>Test hook: forces a kernel family (a vector path without hardware support is emulated, slowly).</summary>
    internal static KernelPath ForcedPath { get; set; } = KernelPath.Auto;

    // Below this many multiply-adds, packing and blocking cost more than they save.
    private const long DirectWork = 4096;

    // Below this many multiply-adds (about 20 us on one core), waking a second thread costs more than it saves.
    private const long ParallelWork = 1L << 20;

    // Tile shape, block sizes and kernels of one path (kernel arguments are described on GemmKernels).
    private readonly struct Plan(int mr, int nr, int kc, int mc, int nc,
        delegate*<int, float*, nint, nint, GemmKernels.StridedB, float*, int, bool, int, int, float*, void> full,
        delegate*<int, float*, nint, nint, GemmKernels.StridedB, float*, int, bool, int, int, float*, void> half,
        delegate*<bool, int, float*, nint, nint, GemmKernels.StridedB, float*, int, bool, int, int, float*, void> tail)
    {
        public readonly int MR = mr, NR = nr, KC = kc, MC = mc, NC = nc;

        /// <summary>Computes a tile of up to MR x NR.</summary>
        public readonly delegate*<int, float*, nint, nint, GemmKernels.StridedB, float*, int, bool, int, int, float*, void> Full = full;

        /// <summary>Computes a tile of up to MR x NR/2: the last panel of a width that just spills over.</summary>
        public readonly delegate*<int, float*, nint, nint, GemmKernels.StridedB, float*, int, bool, int, int, float*, void> Half = half;

        /// <summary>Computes a tile of fewer than MR rows (first argument: half width), or null to use Full/Half.</summary>
        public readonly delegate*<bool, int, float*, nint, nint, GemmKernels.StridedB, float*, int, bool, int, int, float*, void> Tail = tail;
    }

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
        // Without FMA (AVX-only parts) Vector256.FusedMultiplyAdd is emulated per element.
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported) return KernelPath.Vector256;
        return KernelPath.Scalar;
    }

    // KC sizes a B micro-panel (KC x NR) and the depth of each pass over C; MC keeps the A block (MC x KC) in
    // L2; NC bounds the packed B block (KC x NC). The Vector512 figures were measured on Zen 5 (48 KB L1d,
    // 1 MB L2 per core) with `lopper bench gemm`: a deep KC (fewer read-modify-write passes over C) with a
    // short MC beat the L1-resident panel, 1024^3 at 208-223 GFLOP/s on one core against 178 for 256/144/2048
    // (whose 1 MB B block filled L2). The Vector256 figures were tuned on Zen 3.
    private static Plan PlanFor(KernelPath path) => path switch
    {
        KernelPath.Vector512 => new Plan(GemmKernels.MR512, GemmKernels.NR512, 768, 72, 512,
            &GemmKernels.Kernel512<GemmKernels.R12, GemmKernels.StridedB>, &GemmKernels.Kernel512Half<GemmKernels.R12, GemmKernels.StridedB>,
            &GemmKernels.Tile<GemmKernels.StridedB>),
        KernelPath.Vector256 => new Plan(GemmKernels.MR256, GemmKernels.NR256, 512, 144, 2048,
            &GemmKernels.Kernel256<GemmKernels.R6, GemmKernels.StridedB>, &GemmKernels.Kernel256Half<GemmKernels.R6, GemmKernels.StridedB>,
            &GemmKernels.Tile256<GemmKernels.StridedB>),
        _ => new Plan(GemmKernels.MRScalar, GemmKernels.NRScalar, 256, 128, 1024,
            &GemmKernels.KernelScalar, &GemmKernels.KernelScalar, null),
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
        int chunks = Math.Min(threads, panels);
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
        // Reading A in place skips packing it, which pays when few columns share each A panel. Rows of a
        // plain A stream well in place; a transposed A touches one line (and, with a long stride, one page)
        // per depth step, so it is read in place only for narrow C or shallow blocks.
        bool directA = transA ? n1 - n0 <= 128 || kc <= 64 : n1 - n0 <= 512;
        // With a single A block, each B micro-panel is used once: pack it right before use so it is still
        // in L1, instead of packing the whole B block out to L3 first.
        bool fuseB = m1 - m0 <= mc;
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
                        Macro(plan, mcur, ncur, kcur, pa, rowStep, rs, ps, packB, (long)nr * kcur, nr, cb, ldc, add, tile);
                        continue;
                    }
                    // Full-width panels of a plain B are read in place when only one A block uses them: packing
                    // would copy every element to use it once (about half the time of a GEMM with 16 or fewer rows).
                    // A remainder of at least NR/2 columns runs its first NR/2 in place too, with the half kernel.
                    int inPlace = transB ? 0 : ncur / nr * nr + (ncur % nr >= nr / 2 ? nr / 2 : 0);
                    if (inPlace > 0)
                        Macro(plan, mcur, inPlace, kcur, pa, rowStep, rs, ps, b + (long)pc * ldb + jc, nr, ldb, cb, ldc, add, tile);
                    for (int j = inPlace; j < ncur; j += nr)
                    {
                        int ncols = Math.Min(nr, ncur - j);
                        GemmKernels.PackB(transB, b, ldb, pc, kcur, jc + j, ncols, nr, packB);
                        Macro(plan, mcur, ncols, kcur, pa, rowStep, rs, ps, packB, (long)nr * kcur, nr, cb + j, ldc, add, tile);
                    }
                }
            }
        }
    }

    // The B micro-panel is the outer loop so it stays in L1 while the A micro-panels stream past it. Panel q
    // of B starts at pb + q*panelStep and steps bs floats per depth (packed: kc*NR and NR; in place: NR and ldb).
    private static void Macro(in Plan plan, int mc, int nc, int kc, float* pa, nint rowStep, nint rs, nint ps,
        float* pb, long panelStep, nint bs, float* c, int ldc, bool add, float* tile)
    {
        int mr = plan.MR, nrMax = plan.NR;
        for (int j = 0, q = 0; j < nc; j += nrMax, q++)
        {
            int nr = Math.Min(nrMax, nc - j);
            var kernel = nr <= nrMax / 2 ? plan.Half : plan.Full;
            float* bj = pb + q * panelStep;
            var panel = new GemmKernels.StridedB(bj, bs);
            int i = 0;
            for (; i + mr <= mc; i += mr)
                kernel(kc, pa + i * rowStep, rs, ps, panel, c + (long)i * ldc + j, ldc, add, mr, nr, tile);
            if (i == mc) continue;
            if (plan.Tail != null) plan.Tail(nr <= nrMax / 2, kc, pa + i * rowStep, rs, ps, panel, c + (long)i * ldc + j, ldc, add, mc - i, nr, tile);
            else kernel(kc, pa + i * rowStep, rs, ps, panel, c + (long)i * ldc + j, ldc, add, mc - i, nr, tile);
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
                        for (int p = 0; p < k; p++) s += a[(long)p * lda + i] * bj[p];
                    else
                    {
                        float* ai = a + (long)i * lda;
                        for (int p = 0; p < k; p++) s += ai[p] * bj[p];
                    }
                    crow[j] = accumulate ? crow[j] + s : s;
                }
            }
        }
    }

    /// <summary>This thread's B-panel scratch of at least <paramref name="floats"/> floats, 64-byte aligned (valid until the next GEMM call on the thread).</summary>
    internal static float* PanelBuffer(int floats) => Buffers.B(floats);

    // Per-thread packing buffers, pinned and 64-byte aligned, grown on demand and kept for the thread's
    // life: steady-state calls allocate nothing.
    private static class Buffers
    {
        [ThreadStatic] private static float[]? _a;
        [ThreadStatic] private static float[]? _b;
        [ThreadStatic] private static float[]? _c;

        public static float* A(int floats) => Get(ref _a, floats);

        public static float* B(int floats) => Get(ref _b, floats);

        public static float* C(int floats) => Get(ref _c, floats);

        private static float* Get(ref float[]? buffer, int floats)
        {
            if (buffer is null || buffer.Length < floats + 16)
                buffer = GC.AllocateUninitializedArray<float>(Math.Max(floats + 16, (buffer?.Length ?? 0) * 3 / 2), pinned: true);
            nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
            return (float*)((p + 63) & ~(nint)63);
        }
    }
}
