using Lopper.Tensors.Kernels;
using Lopper.Tests.Graph;

namespace Lopper.Tests.Kernels;

/// <summary>
/// <see cref="Gemm.Multiply"/> against a double-precision triple loop: every transpose combination, sizes
/// that leave partial tiles on both sides, padded leading dimensions, accumulate on and off, and one and two
/// threads. Runs serially because it sets the process-wide thread count.
/// </summary>
[Collection(SerialGraphCollection.Name)]
public unsafe class GemmTests
{
    public static TheoryData<int, int, int> Sizes() => new()
    {
        { 1, 1, 1 }, { 7, 13, 5 }, { 33, 65, 129 }, { 100, 3, 300 }, { 3, 100, 17 }, { 6, 16, 8 },
        { 12, 32, 1 }, { 13, 33, 2 }, { 64, 49, 576 }, { 130, 70, 530 }, { 16, 784, 144 }, { 128, 10, 512 },
        { 1, 300, 40 }, { 300, 1, 40 }, { 200, 257, 31 },
        // Every row count of a tail tile (1..11 rows past the 12-row tiles), and remainders of exactly, above
        // and below half a panel (16, 17, 15 columns) that the in-place path splits differently.
        { 2, 48, 9 }, { 15, 49, 11 }, { 16, 47, 12 }, { 17, 80, 3 }, { 18, 112, 20 }, { 19, 16, 7 },
        { 20, 17, 5 }, { 21, 64, 6 }, { 22, 81, 4 }, { 23, 95, 10 }, { 35, 144, 33 },
        // Depth over one block (768): later blocks add into C; rows over one A block (72).
        { 20, 50, 1600 }, { 150, 40, 800 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void MatchesNaive(int m, int n, int k)
    {
        foreach (bool transA in new[] { false, true })
        foreach (bool transB in new[] { false, true })
        foreach (bool accumulate in new[] { false, true })
        foreach (int threads in new[] { 1, 2 })
            Check(transA, transB, m, n, k, accumulate, threads, pad: 0, seed: m * 131 + n * 7 + k);
    }

    [Theory]
    [InlineData(7, 13, 5)]
    [InlineData(33, 65, 129)]
    [InlineData(70, 90, 300)]
    public void PaddedLeadingDimensions(int m, int n, int k)
    {
        foreach (bool transA in new[] { false, true })
        foreach (bool transB in new[] { false, true })
        foreach (int threads in new[] { 1, 2 })
        {
            Check(transA, transB, m, n, k, accumulate: false, threads, pad: 3, seed: 11);
            Check(transA, transB, m, n, k, accumulate: true, threads, pad: 17, seed: 12);
        }
    }

    [Theory]
    [InlineData((int)Gemm.KernelPath.Vector512)]
    [InlineData((int)Gemm.KernelPath.Vector256)]
    [InlineData((int)Gemm.KernelPath.Scalar)]
    public void EveryKernelPath(int path)
    {
        // A vector path the hardware lacks runs emulated: slow, but still exact enough to check.
        var saved = Gemm.ForcedPath;
        Gemm.ForcedPath = (Gemm.KernelPath)path;
        try
        {
            foreach (var (m, n, k) in new[] { (7, 13, 5), (33, 65, 129), (25, 40, 20), (13, 35, 70) })
            foreach (bool transA in new[] { false, true })
            foreach (bool transB in new[] { false, true })
            {
                Check(transA, transB, m, n, k, accumulate: false, threads: 1, pad: 2, seed: 5);
                Check(transA, transB, m, n, k, accumulate: true, threads: 2, pad: 0, seed: 6);
            }
        }
        finally { Gemm.ForcedPath = saved; }
    }

    [Fact]
    public void ZeroDepthClearsOrKeeps()
    {
        var c = new float[] { 1, 2, 3, 4, 5, 6 };
        var a = new float[1];
        var b = new float[1];
        fixed (float* ap = a, bp = b, cp = c)
        {
            Gemm.Multiply(false, false, 2, 3, 0, ap, 1, bp, 3, cp, 3, accumulate: true);
            Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, c);
            Gemm.Multiply(false, false, 2, 3, 0, ap, 1, bp, 3, cp, 3, accumulate: false);
            Assert.Equal(new float[6], c);
        }
    }

    [Fact]
    public void ThreadCountDoesNotChangeBits()
    {
        const int m = 150, n = 333, k = 700;
        var rng = new Random(3);
        var a = Fill(rng, m * k);
        var b = Fill(rng, k * n);
        var one = new float[m * n];
        var two = new float[m * n];
        int saved = Parallelism.Threads;
        try
        {
            fixed (float* ap = a, bp = b, c1 = one, c2 = two)
            {
                Parallelism.Threads = 1;
                Gemm.Multiply(false, true, m, n, k, ap, k, bp, k, c1, n, false);
                Parallelism.Threads = 2;
                Gemm.Multiply(false, true, m, n, k, ap, k, bp, k, c2, n, false);
            }
        }
        finally { Parallelism.Threads = saved; }
        Assert.Equal(one, two);
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(16, 840, 144)]   // the first ResNet-20 stage through PaddedConv
    [InlineData(13, 47, 300)]    // tail rows, a half panel plus 15 packed columns, two depth blocks
    [InlineData(25, 16, 7)]      // exactly a half panel
    [InlineData(3, 5, 600)]      // only packed columns
    [InlineData(24, 96, 9)]
    // The Vector256 family's 6-row tiles and 16-column halves: tails of 1, 5 and 4 rows; 9 packed columns (a full
    // tile, partly stored), 4 (a half tile) and only 8.
    [InlineData(7, 41, 20)]
    [InlineData(5, 20, 11)]
    [InlineData(11, 8, 5)]
    [InlineData(16, 57, 13)]
    public void MultiplyRowsByPanelMatchesNaive(int m, int n, int k)
    {
        foreach (var path in KernelTestData.Families(() => Gemm.RowsByPanelSupported))
            KernelTestData.WithFamily(path, () => CheckRowsByPanel(m, n, k));
    }

    private static void CheckRowsByPanel(int m, int n, int k)
    {
        var rng = new Random(m * 7 + n * 3 + k);
        var a = Fill(rng, m * (k + 2));
        var buffer = Fill(rng, n + 500);
        var offsets = Enumerable.Range(0, k).Select(_ => rng.Next(500)).ToArray();   // overlapping, uneven rows
        var c = Fill(rng, m * (n + 1));
        fixed (float* ap = a, bp = buffer, cp = c)
        {
            var rows = new nint[k];
            for (int p = 0; p < k; p++) rows[p] = (nint)(bp + offsets[p]);
            var sink = new CollectPanels(cp, m, n + 1);
            fixed (nint* rp = rows)
                Gemm.MultiplyRowsByPanel(m, n, k, ap, k + 2, (float**)rp, ref sink);
            Assert.Equal(n, sink.Next);   // every column handed over once, in order
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, mag = 0;
                for (int p = 0; p < k; p++) { double t = (double)a[i * (k + 2) + p] * buffer[offsets[p] + j]; sum += t; mag += Math.Abs(t); }
                Assert.True(Math.Abs(c[i * (n + 1) + j] - sum) <= 1e-5 * (mag + 1), $"C[{i},{j}] = {c[i * (n + 1) + j]}, expected {sum}");
            }
    }

    // Copies each panel into C (row stride ldc) and checks that panels arrive left to right without gaps.
    private struct CollectPanels(float* c, int m, int ldc) : Gemm.IPanelSink
    {
        public int Next;

        public void Panel(int j0, int cols, float* panel)
        {
            Assert.Equal(Next, j0);
            Assert.InRange(cols, 1, 32);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < cols; j++) c[(long)i * ldc + j0 + j] = panel[i * 32 + j];
            Next = j0 + cols;
        }
    }

    [Theory]
    [InlineData(16, 16, 1056, 33)]   // ResNet-56's first stage: 32 x 32 planes at pitch 33
    [InlineData(13, 21, 90, 10)]     // a row tile of 5, a 16 block and a masked 5-channel block
    [InlineData(1, 3, 7, 4)]
    public void RowTapWeightGradientMatchesTheShiftedProduct(int m, int n, int k, int pitch)
    {
        if (!RowTapWeightGradient.Supported) return;
        var rng = new Random(m * 31 + n + k);
        int rowStride = k + 2 * pitch + 9;
        var offsets = new int[9];
        for (int t = 0; t < 9; t++) offsets[t] = t / 3 * pitch + t % 3;
        var a = Fill(rng, m * rowStride + 2 * pitch + 8);
        var b = Fill(rng, n * (k + 3));
        var c = Fill(rng, 9 * m * (n + 2));
        var expected = (float[])c.Clone();
        fixed (float* ap = a, bp = b, cp = c, ep = expected)
        {
            RowTapWeightGradient.Accumulate(m, n, k, ap, rowStride, pitch, bp, k + 3, cp, n + 2);
            Gemm.AccumulateShifted(m, n, k, ap, rowStride, offsets, bp, k + 3, ep, n + 2);
        }
        for (int x = 0; x < c.Length; x++)
            Assert.True(Math.Abs(c[x] - expected[x]) <= 1e-4 * (1 + Math.Abs(expected[x])), $"C[{x}] = {c[x]}, expected {expected[x]}");
    }

    [Theory]
    [InlineData(16, 16, 840, 9)]   // ResNet-20's first stage through PaddedConv.WeightGradient
    [InlineData(13, 40, 900, 3)]   // tail rows, a full and a half panel, two depth blocks
    [InlineData(2, 5, 7, 1)]
    [InlineData(7, 9, 50, 2)]      // Vector256: a 16-column panel with 9 columns, a 1-row tail
    [InlineData(5, 24, 30, 2)]     // Vector256: a full panel and a half one
    public void AccumulateShiftedMatchesNaive(int m, int n, int k, int shifts)
    {
        foreach (var path in KernelTestData.Families(() => Gemm.RowsByPanelSupported))
            KernelTestData.WithFamily(path, () => CheckAccumulateShifted(m, n, k, shifts));
    }

    private static void CheckAccumulateShifted(int m, int n, int k, int shifts)
    {
        var rng = new Random(m + n + k + shifts);
        int rowStride = k + 37;
        var offsets = Enumerable.Range(0, shifts).Select(_ => rng.Next(30)).ToArray();
        var a = Fill(rng, m * rowStride + 40);
        var b = Fill(rng, n * (k + 3));
        var c = Fill(rng, shifts * m * (n + 2));
        var before = (float[])c.Clone();
        fixed (float* ap = a, bp = b, cp = c)
            Gemm.AccumulateShifted(m, n, k, ap, rowStride, offsets, bp, k + 3, cp, n + 2);
        for (int s = 0; s < shifts; s++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = before[(s * m + i) * (n + 2) + j], mag = Math.Abs(sum);
                    for (int p = 0; p < k; p++) { double t = (double)a[offsets[s] + i * rowStride + p] * b[j * (k + 3) + p]; sum += t; mag += Math.Abs(t); }
                    Assert.True(Math.Abs(c[(s * m + i) * (n + 2) + j] - sum) <= 1e-5 * (mag + 1), $"C[{s},{i},{j}]");
                }
    }

    private static void Check(bool transA, bool transB, int m, int n, int k, bool accumulate, int threads, int pad, int seed)
    {
        var rng = new Random(seed);
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + pad, ldb = bCols + pad, ldc = n + pad;
        var a = Fill(rng, Math.Max(1, aRows * lda));
        var b = Fill(rng, Math.Max(1, bRows * ldb));
        var c = Fill(rng, Math.Max(1, m * ldc));
        var before = (float[])c.Clone();

        int saved = Parallelism.Threads;
        try
        {
            Parallelism.Threads = threads;
            fixed (float* ap = a, bp = b, cp = c)
                Gemm.Multiply(transA, transB, m, n, k, ap, lda, bp, ldb, cp, ldc, accumulate);
        }
        finally { Parallelism.Threads = saved; }

        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? before[i * ldc + j] : 0, mag = Math.Abs(sum);
                for (int p = 0; p < k; p++)
                {
                    double x = transA ? a[p * lda + i] : a[i * lda + p];
                    double y = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += x * y;
                    mag += Math.Abs(x * y);
                }
                double got = c[i * ldc + j];
                if (Math.Abs(got - sum) > 1e-4 * mag + 1e-6)
                    Assert.Fail($"C[{i},{j}] = {got}, expected {sum} (transA={transA}, transB={transB}, {m}x{n}x{k}, accumulate={accumulate}, threads={threads}, pad={pad})");
            }
            // Padding past each row of C is not output: it must be untouched.
            for (int j = n; j < ldc; j++)
                Assert.Equal(before[i * ldc + j], c[i * ldc + j]);
        }
    }

    private static float[] Fill(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
