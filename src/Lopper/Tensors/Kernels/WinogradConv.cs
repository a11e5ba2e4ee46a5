using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lopper.Tensors.Kernels;

/// <summary>
/// A stride-1, padding-1 3x3 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, 2016): each
/// 2x2 block of outputs ("tile") takes 16 multiply-adds per input channel and filter instead of 36. The input's
/// overlapping 4x4 patches are transformed (V = Bt d B), the weights once per session (U = G g Gt), the 16 element
/// positions multiply as 16 independent GEMMs over the channels (M = U V), and each tile's 2x2 outputs come back as
/// Y = At M A, with bias, residual and ReLU applied on the way out.
/// </summary>
/// <remarks>
/// <para>The GEMMs run the general 12 x 32 micro-kernels (<see cref="GemmKernels"/>) over a group of tiles at a time:
/// U packed once in their A-panel layout, V written by the input transform straight in the B layout they read in
/// place (channel rows of the group's tiles), so nothing is packed per call. A group is a run of tile rows across
/// the images, sized so that its V and M stay near L2.</para>
/// <para>The transforms are vectorised over 16 tiles of a tile row: patch rows are read in place with masked loads
/// (the padding is never written out), each one's even and odd columns separated with two-vector permutes; the
/// output's two columns per tile are interleaved back the same way. Lanes past a row's last tile and the outputs of an
/// odd plane's last half tile are computed but never stored.</para>
/// <para>The arithmetic differs from the direct sum in rounding only: the transforms add and subtract (with halves in
/// G), so results agree with the direct convolution to a few units in the last place of the activations' scale.</para>
/// </remarks>
internal static unsafe class WinogradConv
{
    /// <summary>True where the kernels run: Vector512 hardware with AVX-512F permutes, or AVX2 (<see cref="WinogradConv256"/>).</summary>
    public static bool Supported => Wide || WinogradConv256.Supported;

    /// <summary>True where the Vector512 family (this class's kernels) runs; otherwise <see cref="WinogradConv256"/>'s.</summary>
    internal static bool Wide => Gemm.RowsSupported && Avx512F.IsSupported;

    // The 16 GEMMs of a tile group; a tile row of up to this many tiles is transformed in one vector.
    private const int Lanes = 16;

    private const int Panel = GemmKernels.NR512;
    private const int Rows = GemmKernels.MR512;

    /// <summary>
    /// True where F(2x2, 3x3) beats the dense kernel the layer would otherwise run on an h x w plane. On AVX-512 parts,
    /// against the direct tiles: at least 64 channels in and out, and on planes under 14 wide at least 128 x 128; or at
    /// least 16 in and out on rows the direct tiles cannot fill (see remarks). On AVX2 parts, against the GEMM on padded
    /// rows: at least 8 channels in and 7 out on planes of at least 7 x 7.
    /// </summary>
    /// <remarks>
    /// One Zen 5 core, 8 images, direct-convolution GFLOP/s (the direct tiles run about 200): 64 -> 64 at 28x28
    /// 252-276, 64 at 14x14 240, 128 at 14x14 268-303, 32 -> 64 at 28x28 252, 128 at 7x7 217, 128 -> 256 and 256 at
    /// 7x7 226-246; but 16 at 28x28 100, 32 at 28x28 174, 32 at 14x14 128, 48 at 14x14 161, 64 at 7x7 123, 64 -> 128
    /// at 7x7 174, 96 at 7x7 179 (with the first version, which padded each image before the transform). Narrow layers
    /// leave the GEMMs short and the transforms a large share; 7x7 planes waste a quarter of every tile.
    /// <para>The direct tiles hold up to 14 positions of a row, so rows of 7, 14 and 28 fill them and rows of 8, 16 and
    /// 32 leave them 8-11. In a model (`lopper bench --profile`, two threads, batch 128, stride-1 layers) ResNet-56
    /// 3x32's 16-, 32- and 64-channel layers on 32x32, 16x16 and 8x8 planes ran 1.57-2.07, 1.35-1.82 and 1.33-1.68 ms
    /// a batch through Winograd against 1.79-2.34, 1.79-1.99 and 1.75-2.06 on the direct tiles, and the model 1.05-1.17x
    /// ONNX Runtime's speed against 0.97-1.08x (eight alternating runs of each); ResNet-20 1x28's on 28x28, 14x14 and 7x7 ran 1.66-2.14, 1.30-2.01 and
    /// 1.44-1.73 against 1.54-1.62, 1.33-1.49 and 1.45-1.66, so they keep the direct tiles.</para>
    /// </remarks>
    public static bool Pays(int inChannels, int outChannels, int h, int w) =>
        !Wide ? WinogradConv256.Supported && PaysNarrow(inChannels, outChannels, h, w)
        : (inChannels >= 64 && outChannels >= 64 && (w >= 14 && h >= 14 || (long)inChannels * outChannels >= 128 * 128)
            || inChannels >= 16 && outChannels >= 16 && w >= 8 && w % 7 != 0);

    // The Vector256 family's rule, against the GEMM on padded rows (the only dense 3x3 kernel of AVX2 parts): 8 or more
    // channels in and 7 or more out, on planes of 7 or more. On Zen 3 (`lopper bench --profile`, batch 128, two threads,
    // alternating runs) ResNet-20 1x28's stride-1 layers on 28x28, 14x14 and 7x7 ran 19 / 16 / 17 ms a stage through
    // Winograd against 23-25 / 23 / 23.5 through the GEMM, and the models lopper/ORT 0.71 -> 1.15 (ResNet-56 3x32),
    // 0.58-0.65 -> 1.15 (vgg-small), 0.57-0.71 -> 1.07-1.12 (ResNet-20). Pruned widths (one thread, 32 images, best of 7,
    // Winograd's speed over the GEMM's): 8 -> 8 and 8 -> 7 on 28x28 1.16-1.18x, 12 -> 12 1.28x, 14-23 channels on 14x14
    // 1.61-1.76x, 33 -> 34 on 7x7 1.63x; 4 -> 4 on 28x28 0.88x. Smaller planes are unmeasured.
    private static bool PaysNarrow(int inChannels, int outChannels, int h, int w) => inChannels >= 8 && outChannels >= 7 && w >= 7 && h >= 7;

    /// <summary>Fewest tiles a call should have per thread: two GEMM panels' width (see Conv2dOp's WinogradFills).</summary>
    public static int MinTiles => 2 * (Wide ? Panel : WinogradConv256.Panel);

    /// <summary>
    /// Weights transformed and packed for <see cref="Forward"/>: [element][block of filters][channel][block], blocks of
    /// 12 filters for the Vector512 family and of 6 for the Vector256 one (the family running when it was made).
    /// </summary>
    public sealed class Plan
    {
        internal Plan(int outChannels, int inChannels, int blockRows, bool pooled)
        {
            OutChannels = outChannels;
            InChannels = inChannels;
            BlockRows = blockRows;
            int length = checked((int)(16 * ElementStride));
            Packed = pooled ? BufferPool.RentZeroed(length) : new float[length];
        }

        // Filters per packed block: the A-panel height of the family's micro-kernels.
        internal int BlockRows { get; }

        internal float[] Packed { get; }

        /// <summary>Filters.</summary>
        public int OutChannels { get; }

        /// <summary>Input channels.</summary>
        public int InChannels { get; }

        internal int Blocks => (OutChannels + BlockRows - 1) / BlockRows;

        // Floats between two elements' packed U.
        internal long ElementStride => (long)Blocks * InChannels * BlockRows;
    }

    /// <summary>
    /// Transforms a [out, in*9] weight (U = G g Gt per filter and channel, in double) and packs it for the GEMM
    /// micro-kernels.
    /// </summary>
    public static Plan Prepare(ReadOnlySpan<float> weight, int outChannels, int inChannels) => Prepare(weight, outChannels, inChannels, pooled: false);

    /// <summary>
    /// <see cref="Prepare(ReadOnlySpan{float}, int, int)"/> into a buffer from <see cref="BufferPool"/>, for weights
    /// that move (training makes one per pass); hand it back with <see cref="Release"/>.
    /// </summary>
    public static Plan PreparePooled(ReadOnlySpan<float> weight, int outChannels, int inChannels) => Prepare(weight, outChannels, inChannels, pooled: true);

    /// <summary>Returns a <see cref="PreparePooled"/> plan's buffer to the pool; the plan is not used again.</summary>
    public static void Release(Plan plan) => BufferPool.Return(plan.Packed);

    private static Plan Prepare(ReadOnlySpan<float> weight, int outChannels, int inChannels, bool pooled)
    {
        if (outChannels <= 0 || inChannels <= 0) throw new ArgumentOutOfRangeException(nameof(outChannels), $"channels {outChannels} x {inChannels}");
        if (weight.Length < (long)outChannels * inChannels * 9) throw new ArgumentException($"weight of {weight.Length} floats for {outChannels} x {inChannels} x 3 x 3", nameof(weight));
        var plan = new Plan(outChannels, inChannels, Wide ? Rows : WinogradConv256.Rows, pooled);
        int rows = plan.BlockRows;
        var packed = plan.Packed;
        long elementStride = plan.ElementStride;
        Span<double> gg = stackalloc double[12];
        for (int o = 0; o < outChannels; o++)
            for (int c = 0; c < inChannels; c++)
            {
                var g = weight.Slice((o * inChannels + c) * 9, 9);
                // G g: rows (g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2) of the kernel's rows, column by column.
                for (int j = 0; j < 3; j++)
                {
                    double g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
                    gg[j] = g0;
                    gg[3 + j] = 0.5 * (g0 + g1 + g2);
                    gg[6 + j] = 0.5 * (g0 - g1 + g2);
                    gg[9 + j] = g2;
                }
                long at = (long)(o / rows) * inChannels * rows + (long)c * rows + o % rows;
                for (int a = 0; a < 4; a++)
                {
                    double r0 = gg[3 * a], r1 = gg[3 * a + 1], r2 = gg[3 * a + 2];
                    packed[(4 * a + 0) * elementStride + at] = (float)r0;
                    packed[(4 * a + 1) * elementStride + at] = (float)(0.5 * (r0 + r1 + r2));
                    packed[(4 * a + 2) * elementStride + at] = (float)(0.5 * (r0 - r1 + r2));
                    packed[(4 * a + 3) * elementStride + at] = (float)r2;
                }
            }
        return plan;
    }

    // Tiles per group: V (16 x channels x tiles) and M (16 x filters x tiles) together near 1 MB, at least a GEMM panel.
    private static int GroupTiles(int inChannels, int outChannels) => Math.Clamp(16384 / (inChannels + outChannels), Panel, 512);

    // Tile rows per group: near the target, the fewest GEMM columns wasted on a partial last panel (a 7x7 plane's
    // 4-tile rows in groups of 8 fill a 32-tile panel exactly, in groups of 10 waste a third of the second).
    internal static int GroupRows(int targetTiles, int tilesX, int totalRows, int panel)
    {
        int target = Math.Max(1, targetTiles / tilesX);
        int best = Math.Min(target, totalRows);
        double bestWaste = double.MaxValue;
        for (int r = Math.Max(1, target / 2); r <= Math.Min(totalRows, target + target / 2); r++)
        {
            int tiles = r * tilesX;
            double waste = (double)((tiles + panel - 1) / panel * panel - tiles) / tiles;
            if (waste < bestWaste - 1e-9 || (Math.Abs(waste - bestWaste) < 1e-9 && Math.Abs(r - target) < Math.Abs(best - target)))
            {
                best = r;
                bestWaste = waste;
            }
        }
        return best;
    }

    /// <summary>Rows of 2x2 output tiles in <paramref name="images"/> planes of height h: the unit <see cref="Forward"/> splits on.</summary>
    public static int TileRows(int images, int h) => images * ((h + 1) / 2);

    /// <summary>
    /// y = conv(x) (+ bias, + residual, ReLU) for <paramref name="images"/> images of [in, h, w] into [out, h, w] each,
    /// or for the tile rows [<paramref name="firstRow"/>, <paramref name="endRow"/>) of them (<see cref="TileRows"/>;
    /// -1: to the end), so that threads can share a few images. One thread; scratch from <see cref="BufferPool"/>.
    /// </summary>
    public static void Forward(float* x, int images, int h, int w, Plan plan, float* y, float* bias = null, bool relu = false, float* residual = null,
        int firstRow = 0, int endRow = -1)
    {
        if (!Supported) throw new PlatformNotSupportedException("WinogradConv needs AVX-512 or AVX2");
        if (images <= 0 || h <= 0 || w <= 0) throw new ArgumentOutOfRangeException(nameof(images), $"{images} images of {h} x {w}");
        if (endRow < 0) endRow = TileRows(images, h);
        if (firstRow < 0 || endRow > TileRows(images, h) || firstRow > endRow) throw new ArgumentOutOfRangeException(nameof(firstRow), $"tile rows [{firstRow}, {endRow}) of {TileRows(images, h)}");
        if (endRow == firstRow) return;
        if (plan.BlockRows != (Wide ? Rows : WinogradConv256.Rows))
            throw new InvalidOperationException("WinogradConv: the plan was packed for another kernel family than the one running (Gemm.ForcedPath changed)");
        if (Wide) Run<Vector512Family>(x, h, w, plan, y, bias, relu, residual, firstRow, endRow);
        else Run<WinogradConv256.Family>(x, h, w, plan, y, bias, relu, residual, firstRow, endRow);
    }

    /// <summary>
    /// What a kernel family gives the group driver (<see cref="Run{F}"/>): how many tiles of a row one transform vector
    /// takes, its GEMM panel width, its group size, the column masks of a row's tile vectors, and the two transforms, and
    /// the micro-kernel tile of the GEMM stage between them.
    /// </summary>
    internal interface IFamily
    {
        /// <summary>Tiles of a tile row per transform vector.</summary>
        static abstract int Lanes { get; }

        /// <summary>GEMM columns (tiles) per panel.</summary>
        static abstract int Panel { get; }

        /// <summary>Target tiles per group for these channel counts.</summary>
        static abstract int GroupTiles(int inChannels, int outChannels);

        /// <summary>Bytes of the column masks of one tile vector (four vectors).</summary>
        static abstract int MaskBytes { get; }

        /// <summary>Writes the column masks of the <paramref name="vectors"/> tile vectors of an h x w plane's rows.</summary>
        static abstract void Masks(int w, int vectors, byte* inside);

        /// <summary>V = Bt d B for tile row ty of one plane (element e at dst + e*elementStride).</summary>
        static abstract void TransformInputRow(float* plane, int h, int w, int ty, int tilesX, float* zeros, byte* inside, float* dst, long elementStride);

        /// <summary>
        /// One tile of the GEMM stage: <paramref name="mr"/> filters of a packed U block of <paramref name="rows"/> against
        /// <paramref name="nr"/> tiles of V (<paramref name="half"/>: at most half a panel), into M.
        /// </summary>
        static abstract void Tile(bool half, int kc, float* a, int rows, GemmKernels.StridedB panel, float* c, int ldc, int mr, int nr, float* tile);

        /// <summary>Y = At M A for one tile row, with bias, residual and ReLU, into output rows y and y + w.</summary>
        static abstract void TransformOutputRow(float* m, long elementStride, int tilesX, int w, bool second, float* y, float* residual, float bias, bool relu);

        /// <summary>
        /// Whether rows of <paramref name="tilesX"/> tiles go through the transforms two at a time (one tile vector
        /// holding both): <see cref="TransformInputRowPair"/> and <see cref="TransformOutputRowPair"/>.
        /// </summary>
        static virtual bool PairsRows(int tilesX) => false;

        /// <summary>
        /// <see cref="TransformInputRow"/> for tile row <paramref name="tyA"/> of <paramref name="planeA"/> and the row
        /// after it in the group (<paramref name="tyB"/> of <paramref name="planeB"/>), where <see cref="PairsRows"/>.
        /// </summary>
        static virtual void TransformInputRowPair(float* planeA, int tyA, float* planeB, int tyB, int h, int w, float* zeros, byte* inside, float* dst, long elementStride) =>
            throw new NotSupportedException("this kernel family transforms one tile row at a time");

        /// <summary>
        /// <see cref="TransformOutputRow"/> for two tile rows whose tiles one vector holds, into output rows yA (and
        /// yA + w where <paramref name="secondA"/>) and yB (and yB + w), where <see cref="PairsRows"/>; yB null: the
        /// first row alone.
        /// </summary>
        static virtual void TransformOutputRowPair(float* m, long elementStride, int w, float* yA, float* residualA, bool secondA,
            float* yB, float* residualB, bool secondB, float bias, bool relu) =>
            throw new NotSupportedException("this kernel family transforms one tile row at a time");
    }

    // This class's kernels as a family.
    private readonly struct Vector512Family : IFamily
    {
        public static int Lanes => WinogradConv.Lanes;
        public static int Panel => WinogradConv.Panel;
        public static int GroupTiles(int inChannels, int outChannels) => WinogradConv.GroupTiles(inChannels, outChannels);
        public static int MaskBytes => 4 * 64;

        public static void Masks(int w, int vectors, byte* inside)
        {
            var masks = (Vector512<float>*)inside;
            for (int k = 0; k < vectors; k++)
            {
                int x0 = 2 * k * Lanes - 1;
                masks[4 * k] = Inside(x0, w);
                masks[4 * k + 1] = Inside(x0 + 16, w);
                masks[4 * k + 2] = Inside(x0 + 2, w);
                masks[4 * k + 3] = Inside(x0 + 18, w);
            }
        }

        // Whole tiles straight into the 12-row kernel: through GemmKernels.Tile's switch they ran 3-5 % slower.
        public static void Tile(bool half, int kc, float* a, int rows, GemmKernels.StridedB panel, float* c, int ldc, int mr, int nr, float* tile)
        {
            if (mr == Rows && !half) GemmKernels.Kernel512<GemmKernels.R12, GemmKernels.StridedB>(kc, a, 1, rows, panel, c, ldc, false, mr, nr, tile);
            else GemmKernels.Tile(half, kc, a, 1, rows, panel, c, ldc, false, mr, nr, tile);
        }

        public static void TransformInputRow(float* plane, int h, int w, int ty, int tilesX, float* zeros, byte* inside, float* dst, long elementStride) =>
            WinogradConv.TransformInputRow(plane, h, w, ty, tilesX, zeros, (Vector512<float>*)inside, dst, elementStride);

        public static void TransformOutputRow(float* m, long elementStride, int tilesX, int w, bool second, float* y, float* residual, float bias, bool relu) =>
            WinogradConv.TransformOutputRow(m, elementStride, tilesX, w, second, y, residual, bias, relu);
    }

    // The tile rows [firstRow, endRow) of Forward through family F, a group of tile rows at a time: the input transform of
    // every channel's rows, the 16 GEMMs, the output transform of every filter's rows.
    private static void Run<F>(float* x, int h, int w, Plan plan, float* y, float* bias, bool relu, float* residual, int firstRow, int endRow)
        where F : struct, IFamily
    {
        int inC = plan.InChannels, outC = plan.OutChannels;
        int tilesX = (w + 1) / 2, tilesY = (h + 1) / 2;
        int rowsPerGroup = GroupRows(F.GroupTiles(inC, outC), tilesX, endRow - firstRow, F.Panel);
        int maxTiles = rowsPerGroup * tilesX;
        // Row stride of V and M: whole panels for the GEMM's reads and writes, plus the last tile vector's spill.
        int stride = (maxTiles + F.Panel - 1) / F.Panel * F.Panel + F.Lanes;
        // The 16 elements one cache line apart more than whole rows, so a tile's 16 loads or stores fall in 16 sets
        // of L1 (rows of 4 KB multiples put them all in one set).
        long vElement = (long)inC * stride + 16, mElement = (long)outC * stride + 16;
        var v = BufferPool.Rent(checked((int)(16 * vElement)));
        var m = BufferPool.Rent(checked((int)(16 * mElement)));
        // Patch rows above and below the plane read a row of zeros.
        var zeros = BufferPool.RentZeroed(w);
        // Which columns of each of a tile vector's four loads lie in the plane, made once per call.
        int vectors = (tilesX + F.Lanes - 1) / F.Lanes;
        byte* inside = stackalloc byte[vectors * F.MaskBytes];
        F.Masks(w, vectors, inside);
        float* tile = stackalloc float[Rows * Panel];   // the largest tile of either family
        bool pairs = F.PairsRows(tilesX);
        long inImage = (long)inC * h * w, outImage = (long)outC * h * w;
        fixed (float* zp = zeros, vp = v, mp = m, up = plan.Packed)
        {
            for (int g0 = firstRow; g0 < endRow; g0 += rowsPerGroup)
            {
                int g1 = Math.Min(endRow, g0 + rowsPerGroup), tiles = (g1 - g0) * tilesX;
                // Rows of half a tile vector or less go through the transforms two at a time where the family can
                // (the second row's tiles follow the first's in V and M), else one at a time.
                int step = pairs ? 2 : 1;
                for (int c = 0; c < inC; c++)
                    for (int gr = g0; gr < g1; gr += step)
                    {
                        int i = gr / tilesY, ty = gr % tilesY;
                        float* plane = x + i * inImage + (long)c * h * w, dst = vp + (long)c * stride + (gr - g0) * tilesX;
                        if (!pairs) F.TransformInputRow(plane, h, w, ty, tilesX, zp, inside, dst, vElement);
                        else
                        {
                            // A group's odd last row is paired with itself; its copy lands in the spill past the tiles.
                            int next = Math.Min(gr + 1, g1 - 1), i2 = next / tilesY;
                            F.TransformInputRowPair(plane, ty, x + i2 * inImage + (long)c * h * w, next % tilesY, h, w, zp, inside, dst, vElement);
                        }
                    }
                Multiply<F>(plan, up, vp, vElement, mp, mElement, tiles, stride, tile);
                for (int o = 0; o < outC; o++)
                {
                    float b = bias == null ? 0f : bias[o];
                    for (int gr = g0; gr < g1; gr += step)
                    {
                        int i = gr / tilesY, ty = gr % tilesY;
                        long at = i * outImage + (long)o * h * w + 2L * ty * w;
                        float* m0 = mp + (long)o * stride + (gr - g0) * tilesX, ya = y + at, ra = residual == null ? null : residual + at;
                        if (!pairs)
                        {
                            F.TransformOutputRow(m0, mElement, tilesX, w, 2 * ty + 1 < h, ya, ra, b, relu);
                            continue;
                        }
                        float* yb = null, rb = null;
                        bool secondB = false;
                        if (gr + 1 < g1)
                        {
                            int i2 = (gr + 1) / tilesY, ty2 = (gr + 1) % tilesY;
                            long at2 = i2 * outImage + (long)o * h * w + 2L * ty2 * w;
                            yb = y + at2;
                            rb = residual == null ? null : residual + at2;
                            secondB = 2 * ty2 + 1 < h;
                        }
                        F.TransformOutputRowPair(m0, mElement, w, ya, ra, 2 * ty + 1 < h, yb, rb, secondB, b, relu);
                    }
                }
            }
        }
        BufferPool.Return(m);
        BufferPool.Return(v);
        BufferPool.Return(zeros);
    }

    // M[e] = U[e] V[e] for the 16 elements: every panel of the family's width against every block of the plan's filters
    // (12 or 6); the stride leaves room for whole panels, so only partial tiles go through the scratch tile.
    private static void Multiply<F>(Plan plan, float* u, float* v, long vElement, float* m, long mElement, int tiles, int stride, float* tile)
        where F : struct, IFamily
    {
        int inC = plan.InChannels, outC = plan.OutChannels, blocks = plan.Blocks, rows = plan.BlockRows;
        for (int e = 0; e < 16; e++)
        {
            float* ue = u + e * plan.ElementStride, ve = v + e * vElement, me = m + e * mElement;
            for (int j = 0; j < tiles; j += F.Panel)
            {
                bool half = tiles - j <= F.Panel / 2;
                var panel = new GemmKernels.StridedB(ve + j, stride);
                for (int blk = 0; blk < blocks; blk++)
                {
                    float* a = ue + (long)blk * inC * rows, c = me + (long)blk * rows * stride + j;
                    F.Tile(half, inC, a, rows, panel, c, stride, Math.Min(rows, outC - blk * rows), half ? F.Panel / 2 : F.Panel, tile);
                }
            }
        }
    }

    // Simd.EvenLanes, OddLanes, ZipLow, ZipHigh and FirstLanes are the same constants. Taken from there (with and
    // without the full 12-row tile going through GemmKernels.Tile's dispatch), this kernel came out behind in 46 of 49
    // alternations against these copies, mostly by 3-10 % (a harness: one Zen 5 core, 8 images, 64 at 28x28, 128 at
    // 14x14, 256 at 7x7, 32 at 16x16); why was not found, so the copies stay, read into locals before the loops.
    private static readonly Vector512<int> Even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> Odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    private static readonly Vector512<int> LowPairs = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> HighPairs = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

    // V = Bt d B for tile row ty of one plane, tiles at dst (element e at dst + e*elementStride). Tile tx reads rows
    // 2ty-1 .. 2ty+2 and columns 2tx-1 .. 2tx+2; a vector of 16 tiles reads 34 columns, masked to the plane's, and rows
    // outside it read `zeros` (w floats).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformInputRow(float* plane, int h, int w, int ty, int tilesX, float* zeros, Vector512<float>* inside, float* dst, long elementStride)
    {
        var even = Even;
        var odd = Odd;
        int top = 2 * ty - 1;
        // Row 2ty is inside (ty < (h + 1) / 2); the others may not be.
        float* r0 = top >= 0 ? plane + (long)top * w : zeros;
        float* r1 = plane + (long)(top + 1) * w;
        float* r2 = top + 2 < h ? plane + (long)(top + 2) * w : zeros;
        float* r3 = top + 3 < h ? plane + (long)(top + 3) * w : zeros;
        for (int t0 = 0; t0 < tilesX; t0 += Lanes, dst += Lanes, inside += 4)
        {
            // Bt d: row combinations (d0 - d2, d1 + d2, d2 - d1, d1 - d3) of the patch rows, on columns 2t0-1 .. 2t0+30
            // (a, b) and 2t0+1 .. 2t0+32 (c, d).
            int x0 = 2 * t0 - 1;
            Row(r0, r1, r2, r3, x0, inside[0], out var a0, out var a1, out var a2, out var a3);
            Row(r0, r1, r2, r3, x0 + 16, inside[1], out var b0, out var b1, out var b2, out var b3);
            Row(r0, r1, r2, r3, x0 + 2, inside[2], out var c0, out var c1, out var c2, out var c3);
            Row(r0, r1, r2, r3, x0 + 18, inside[3], out var d0, out var d1, out var d2, out var d3);
            Columns(a0, b0, c0, d0, even, odd, dst, elementStride);
            Columns(a1, b1, c1, d1, even, odd, dst + 4 * elementStride, elementStride);
            Columns(a2, b2, c2, d2, even, odd, dst + 8 * elementStride, elementStride);
            Columns(a3, b3, c3, d3, even, odd, dst + 12 * elementStride, elementStride);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(float* r0, float* r1, float* r2, float* r3, int at, Vector512<float> inside, out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2, out Vector512<float> t3)
    {
        // Masked lanes (columns outside the plane) are neither read nor faulted.
        var zero = Vector512<float>.Zero;
        var x0 = Avx512F.MaskLoad(r0 + at, inside, zero);
        var x1 = Avx512F.MaskLoad(r1 + at, inside, zero);
        var x2 = Avx512F.MaskLoad(r2 + at, inside, zero);
        var x3 = Avx512F.MaskLoad(r3 + at, inside, zero);
        t0 = x0 - x2;
        t1 = x1 + x2;
        t2 = x2 - x1;
        t3 = x1 - x3;
    }

    // (Bt d) B for one row combination: columns c0 = 2tx-1, c1 = 2tx, c2 = 2tx+1, c3 = 2tx+2 of 16 tiles, taken apart
    // from (lo, hi) (c0, c1) and (lo2, hi2) (c2, c3), into elements (c0 - c2, c1 + c2, c2 - c1, c1 - c3).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns(Vector512<float> lo, Vector512<float> hi, Vector512<float> lo2, Vector512<float> hi2, Vector512<int> even, Vector512<int> odd, float* dst, long elementStride)
    {
        var c0 = Avx512F.PermuteVar16x32x2(lo, even, hi);
        var c1 = Avx512F.PermuteVar16x32x2(lo, odd, hi);
        var c2 = Avx512F.PermuteVar16x32x2(lo2, even, hi2);
        var c3 = Avx512F.PermuteVar16x32x2(lo2, odd, hi2);
        (c0 - c2).Store(dst);
        (c1 + c2).Store(dst + elementStride);
        (c2 - c1).Store(dst + 2 * elementStride);
        (c1 - c3).Store(dst + 3 * elementStride);
    }

    // Y = At M A for one tile row (element e of tile t at m + e*elementStride + t), plus bias, residual and ReLU, into
    // output rows y and, where it exists, y + w.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformOutputRow(float* m, long elementStride, int tilesX, int w, bool second, float* y, float* residual, float bias, bool relu)
    {
        var lowPairs = LowPairs;
        var highPairs = HighPairs;
        var b = Vector512.Create(bias);
        for (int t0 = 0; t0 < tilesX; t0 += Lanes, m += Lanes)
        {
            // At M: rows (m0 + m1 + m2, m1 - m2 - m3) of each element column.
            Vector512<float> s00, s01, s02, s03, s10, s11, s12, s13;
            {
                var m0 = Vector512.Load(m); var m1 = Vector512.Load(m + 4 * elementStride); var m2 = Vector512.Load(m + 8 * elementStride); var m3 = Vector512.Load(m + 12 * elementStride);
                s00 = m0 + m1 + m2; s10 = m1 - m2 - m3;
            }
            {
                var m0 = Vector512.Load(m + elementStride); var m1 = Vector512.Load(m + 5 * elementStride); var m2 = Vector512.Load(m + 9 * elementStride); var m3 = Vector512.Load(m + 13 * elementStride);
                s01 = m0 + m1 + m2; s11 = m1 - m2 - m3;
            }
            {
                var m0 = Vector512.Load(m + 2 * elementStride); var m1 = Vector512.Load(m + 6 * elementStride); var m2 = Vector512.Load(m + 10 * elementStride); var m3 = Vector512.Load(m + 14 * elementStride);
                s02 = m0 + m1 + m2; s12 = m1 - m2 - m3;
            }
            {
                var m0 = Vector512.Load(m + 3 * elementStride); var m1 = Vector512.Load(m + 7 * elementStride); var m2 = Vector512.Load(m + 11 * elementStride); var m3 = Vector512.Load(m + 15 * elementStride);
                s03 = m0 + m1 + m2; s13 = m1 - m2 - m3;
            }
            var y00 = s00 + s01 + s02 + b;
            var y01 = s01 - s02 - s03 + b;
            int x0 = 2 * t0;
            Store(Avx512F.PermuteVar16x32x2(y00, lowPairs, y01), Avx512F.PermuteVar16x32x2(y00, highPairs, y01), y + x0, residual == null ? null : residual + x0, w - x0, relu);
            if (!second) continue;
            var y10 = s10 + s11 + s12 + b;
            var y11 = s11 - s12 - s13 + b;
            Store(Avx512F.PermuteVar16x32x2(y10, lowPairs, y11), Avx512F.PermuteVar16x32x2(y10, highPairs, y11), y + w + x0, residual == null ? null : residual + w + x0, w - x0, relu);
        }
    }

    // 32 outputs of a row from column x0 on, `left` of them inside the row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> lo, Vector512<float> hi, float* y, float* residual, int left, bool relu)
    {
        var zero = Vector512<float>.Zero;
        if (left >= 2 * Lanes)
        {
            if (residual != null) { lo += Vector512.Load(residual); hi += Vector512.Load(residual + Lanes); }
            if (relu) { lo = Vector512.Max(lo, zero); hi = Vector512.Max(hi, zero); }
            lo.Store(y);
            hi.Store(y + Lanes);
            return;
        }
        var loMask = Mask(left);
        var hiMask = Mask(left - Lanes);
        if (residual != null)
        {
            lo += Avx512F.MaskLoad(residual, loMask, zero);
            hi += Avx512F.MaskLoad(residual + Lanes, hiMask, zero);
        }
        if (relu) { lo = Vector512.Max(lo, zero); hi = Vector512.Max(hi, zero); }
        Avx512F.MaskStore(y, loMask, lo);
        Avx512F.MaskStore(y + Lanes, hiMask, hi);
    }

    private static readonly Vector512<int> LaneIndex = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    // Lanes of columns at .. at+15 that lie in [0, w) set.
    private static Vector512<float> Inside(int at, int w)
    {
        var column = LaneIndex + Vector512.Create(at);
        return (Vector512.GreaterThanOrEqual(column, Vector512<int>.Zero) & Vector512.LessThan(column, Vector512.Create(w))).AsSingle();
    }

    // Lanes below `count` set.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Mask(int count) => Vector512.LessThan(LaneIndex, Vector512.Create(count)).AsSingle();
}
