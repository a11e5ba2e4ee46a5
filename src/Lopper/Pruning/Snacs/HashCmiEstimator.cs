using System.Runtime.CompilerServices;
using Lopper.Tensors;

namespace Lopper.Pruning.Snacs;

/// <summary>Constants of the hash estimator (EDGE 4.4.1's, spec §3.2 and §9; SNACS's own values are not published).</summary>
public sealed record HashCmiOptions
{
    /// <summary>Smoothness factor γ applied to the bandwidths (EDGE's default 1 × 0.4).</summary>
    public double Gamma { get; init; } = 0.4;
    /// <summary>Upper clip U of each cell's log-ratio.</summary>
    public double Upper { get; init; } = 10;
    /// <summary>Lower clip of each cell's log-ratio (the estimator's floor).</summary>
    public double Floor { get; init; } = 0.001;
    /// <summary>Ensemble size L (bandwidths ×linspace(1, 1.1, L), shifts j/L of a cell).</summary>
    public int Ensemble { get; init; } = 10;
    /// <summary>Random query points for the nearest-neighbour bandwidth.</summary>
    public int Queries { get; init; } = 500;
    /// <summary>Variables with more dimensions than this are randomly projected.</summary>
    public int ProjectAbove { get; init; } = 6;
    /// <summary>
    /// EDGE's second pass with a bandwidth adapted to the first estimate. Off by default: with a multi-dimensional Z
    /// its narrower cells leave every sample alone in its Z cell, where the plug-in ratio is 1 whatever the dependence,
    /// so strong dependences collapse to the floor (measured in the tests: a near-copy scored below a noisy one).
    /// </summary>
    public bool SecondPass { get; init; }
    /// <summary>
    /// Subtract the same estimate with X's rows permuted (a null with the same cell structure and no dependence), so
    /// the plug-in bias of sparse joint cells and of the clipping cancels and independence scores at the floor. EDGE has
    /// no such step; without it an independent X scored about 0.9 bits with a 12-dimensional Z.
    /// </summary>
    public bool NullCorrection { get; init; } = true;
    /// <summary>
    /// Per layer pair, pick γ from <see cref="GammaGrid"/> as the one giving the largest mean (null-corrected) score on
    /// a sample of up to 4 × 4 connections, then score the pair with it. A fixed γ failed on real layers: with three
    /// 7-dimensional projected variables, LeNet-5's fc1→fc2 scored every connection at the floor with γ = 0.4 (cells
    /// too fine for N = 2500) while γ = 1 separated them; conv1→conv2 was best at 0.4. Scores are then compared across
    /// pairs on each pair's own best resolution. Used by HashCmiEstimator.ScorePair when the second pass is off.
    /// </summary>
    public bool AdaptiveGamma { get; init; } = true;
    /// <summary>Candidate γ values for <see cref="AdaptiveGamma"/>.</summary>
    public double[] GammaGrid { get; init; } = [0.25, 0.5, 1, 2];
}

/// <summary>
/// The hashing (EDGE-style) estimator of I(X; Y | Z) [RECONSTRUCTED: SNACS's <c>mi_edge</c> is not published; this
/// is EDGE 4.4.1 generalised to the conditional case as spec §3.2 describes]. Each variable is optionally projected
/// to k = min(d, floor(log2(N/10))) dimensions, each coordinate gets a bandwidth from its mean k-NN distance, samples
/// are hashed to cells, and the plug-in CMI of the cell counts (log ratios clipped to [floor, U]) is the median over
/// an ensemble of shifted, stretched grids. Counting uses hash tables, so one call costs O(N).
/// </summary>
public sealed class HashCmiEstimator(HashCmiOptions? options = null) : ICmiEstimator
{
    /// <summary>The constants.</summary>
    public HashCmiOptions Options { get; } = options ?? new HashCmiOptions();

    /// <inheritdoc/>
    public string Name => "hash";

    /// <summary>
    /// A variable ready for hashing: its projected coordinates (one array of N per coordinate) and each coordinate's
    /// base bandwidth e_j·c (the caller's γ multiplies it).
    /// </summary>
    public sealed class Variable(float[][] coords, double[] bandwidth)
    {
        /// <summary>Coordinates, one array of N values each.</summary>
        public float[][] Coords { get; } = coords;
        /// <summary>Base bandwidth of each coordinate (e_j · c, without γ).</summary>
        public double[] Bandwidth { get; } = bandwidth;
    }

    /// <summary>Projected size for d dimensions and N samples: min(d, floor(log2(N/10))), at least 1.</summary>
    public static int ProjectedSize(int d, int n) => Math.Max(1, Math.Min(d, (int)Math.Floor(Math.Log2(n / 10.0))));

    /// <summary>One I(X; Y | Z) estimate of three sample matrices with the same rows (single call, own projections).</summary>
    public double Estimate(ActivationMatrix x, ActivationMatrix y, ActivationMatrix z, ulong seed)
    {
        var vx = Prepare(x, Rng.Derive(seed, 1));
        var vy = Prepare(y, Rng.Derive(seed, 2));
        var vz = Prepare(z, Rng.Derive(seed, 3));
        return Estimate(vx, vy, vz, new Scratch(x.Rows, seed));
    }

    /// <summary>Projects (when d exceeds <see cref="HashCmiOptions.ProjectAbove"/>) and measures the bandwidths of a variable.</summary>
    public Variable Prepare(ActivationMatrix v, Rng rng)
    {
        int n = v.Rows, d = v.Cols;
        if (d <= Options.ProjectAbove) return Measure(ColumnsOf(v), d, rng);
        var r = ProjectionMatrix(v, ProjectedSize(d, n), rng);
        return Measure(Project(v, r, ProjectedSize(d, n), 1.0 / Math.Sqrt(d)), d, rng);
    }

    /// <summary>
    /// Projection matrix R0 (d × k, row-major) with entries Normal(0, 1/s_i²), s_i = the standard deviation of coordinate
    /// i (1 when below 1e-4). EDGE's σ_i = 1/(s_i·√d) is R0 scaled by 1/√d, applied by <see cref="Project"/>.
    /// </summary>
    public static float[] ProjectionMatrix(ActivationMatrix v, int k, Rng rng)
    {
        int n = v.Rows, d = v.Cols;
        var mean = new double[d];
        var sq = new double[d];
        for (int r = 0; r < n; r++)
        {
            var row = v.Row(r);
            for (int i = 0; i < d; i++) { mean[i] += row[i]; sq[i] += (double)row[i] * row[i]; }
        }
        var m = new float[d * k];
        for (int i = 0; i < d; i++)
        {
            double mu = mean[i] / n;
            double s = Math.Sqrt(Math.Max(0, sq[i] / n - mu * mu));
            if (s < 1e-4) s = 1;
            for (int j = 0; j < k; j++) m[i * k + j] = (float)(rng.NextNormal() / s);
        }
        return m;
    }

    /// <summary>V·R·scale as k coordinate arrays of N.</summary>
    public static unsafe float[][] Project(ActivationMatrix v, float[] r, int k, double scale)
    {
        var prod = new float[v.Rows * k];
        fixed (float* pv = v.Data, pr = r, pp = prod)
            Tensors.Kernels.Gemm.Multiply(false, false, v.Rows, k, v.Cols, pv, v.Cols, pr, k, pp, k, false);
        var coords = new float[k][];
        for (int j = 0; j < k; j++)
        {
            coords[j] = new float[v.Rows];
            for (int i = 0; i < v.Rows; i++) coords[j][i] = (float)(prod[i * k + j] * scale);
        }
        return coords;
    }

    /// <summary>The columns of a matrix as coordinate arrays.</summary>
    public static float[][] ColumnsOf(ActivationMatrix v)
    {
        var coords = new float[v.Cols][];
        for (int j = 0; j < v.Cols; j++)
        {
            coords[j] = new float[v.Rows];
            for (int i = 0; i < v.Rows; i++) coords[j][i] = v.Data[i * v.Cols + j];
        }
        return coords;
    }

    /// <summary>
    /// EDGE's automatic bandwidth: per coordinate the mean k-NN distance of <see cref="HashCmiOptions.Queries"/> random
    /// sample points (the point itself is its first neighbour), plus 1e-4, times c = 18·d'/max(1 + ln d_orig, 1).
    /// </summary>
    public Variable Measure(float[][] coords, int originalDim, Rng rng)
    {
        int dp = coords.Length;
        if (dp == 0) return new Variable(coords, []); // an empty Z (one parent group): every sample shares one cell
        int n = coords[0].Length;
        double kRaw = 0.43 * Math.Pow(n, 2.0 / 3 + 0.17 * dp / (dp + 1.0)) * Math.Exp(-1.0 / Math.Max(10000, Math.Pow(dp, 4)));
        int knn = Math.Clamp((int)Math.Floor(kRaw), 1, n);
        double c = 18.0 * dp / Math.Max(1 + Math.Log(originalDim), 1);
        var bw = new double[dp];
        var sorted = new float[n];
        for (int j = 0; j < dp; j++)
        {
            coords[j].CopyTo(sorted, 0);
            Array.Sort(sorted);
            double sum = 0;
            for (int q = 0; q < Options.Queries; q++) sum += KthDistance(sorted, rng.NextInt(n), knn);
            bw[j] = (sum / Options.Queries + 1e-4) * c;
        }
        return new Variable(coords, bw);
    }

    /// <summary>Distance from sorted[i] to its k-th nearest value (itself first): the tightest window of k values containing i.</summary>
    public static double KthDistance(float[] sorted, int i, int k)
    {
        int n = sorted.Length;
        int lo = Math.Max(0, i - k + 1), hi = Math.Min(i, n - k);
        float v = sorted[i];
        // Left reach shrinks and right reach grows with the window start l: find the first l where right >= left.
        int a = lo, b = hi;
        while (a < b)
        {
            int mid = (a + b) >> 1;
            if (sorted[mid + k - 1] - v >= v - sorted[mid]) b = mid; else a = mid + 1;
        }
        double best = Math.Max(v - sorted[a], sorted[a + k - 1] - v);
        if (a > lo) best = Math.Min(best, Math.Max(v - sorted[a - 1], sorted[a + k - 2] - v));
        return best;
    }

    /// <summary>Per-thread buffers of one estimator call (reused across calls on the same thread).</summary>
    public sealed class Scratch
    {
        internal readonly ulong[] Hx, Hy, Hz, Kyz, Key, Permuted;
        internal readonly int[] Slot, Nz, Nxz, Nyz, Nxyz, Permutation;
        internal readonly CountTable Table;
        internal readonly double[] Estimates;

        /// <summary>Buffers for N samples; <paramref name="seed"/> fixes the null permutation.</summary>
        public Scratch(int n, ulong seed)
        {
            Hx = new ulong[n]; Hy = new ulong[n]; Hz = new ulong[n]; Kyz = new ulong[n]; Key = new ulong[n]; Permuted = new ulong[n];
            Permutation = new int[n];
            for (int i = 0; i < n; i++) Permutation[i] = i;
            Rng.Derive(seed, 0x4E554C4CUL).Shuffle(Permutation);
            Slot = new int[n]; Nz = new int[n]; Nxz = new int[n]; Nyz = new int[n]; Nxyz = new int[n];
            Table = new CountTable(n);
            Estimates = new double[64];
        }
    }

    /// <summary>I(X; Y | Z) of prepared variables (bits).</summary>
    public double Estimate(Variable x, Variable y, Variable z, Scratch s)
    {
        double g1 = Options.Gamma;
        double i1 = Ensemble(x, y, z, g1, s);
        if (!Options.SecondPass) return i1;
        // EDGE re-applies its 0.4 factor on the recursive call; I1 >= floor keeps the exponent finite.
        double g2 = 0.4 * g1 * Math.Pow(2, -Math.Sqrt(2 * i1) + 0.5 / i1);
        return Ensemble(x, y, z, g2, s);
    }

    private double Ensemble(Variable x, Variable y, Variable z, double gamma, Scratch s)
    {
        int l = Options.Ensemble;
        Span<double> est = l <= s.Estimates.Length ? s.Estimates.AsSpan(0, l) : new double[l];
        for (int j = 0; j < l; j++)
        {
            var (scale, shift) = Setting(j, gamma);
            HashVariable(x, scale, shift, SaltX, s.Hx);
            HashVariable(y, scale, shift, SaltY, s.Hy);
            HashVariable(z, scale, shift, SaltZ, s.Hz);
            s.Table.Count(s.Hz, s.Slot, s.Nz);
            JoinYz(s.Hy, s.Hz, s.Kyz);
            s.Table.Count(s.Kyz, s.Slot, s.Nyz);
            est[j] = Corrected(s.Hx, s.Hz, s.Kyz, s.Nz, s.Nyz, s);
        }
        return Median(est);
    }

    private const ulong SaltX = 0x51ED27UL, SaltY = 0x9A3B11UL, SaltZ = 0x3C6EF3UL;

    /// <summary>Bandwidth multiplier and shift (in cells) of ensemble member j: ε·linspace(1, 1.1, L)[j], shift j/L.</summary>
    private (double Scale, double Shift) Setting(int j, double gamma)
    {
        int l = Options.Ensemble;
        return (gamma * (l == 1 ? 1 : 1 + 0.1 * j / (l - 1)), (double)j / l);
    }

    private static double Median(Span<double> est)
    {
        est.Sort();
        int l = est.Length;
        return l % 2 == 1 ? est[l / 2] : 0.5 * (est[l / 2 - 1] + est[l / 2]);
    }

    private static void JoinYz(ulong[] hy, ulong[] hz, ulong[] kyz)
    {
        for (int i = 0; i < hy.Length; i++) kyz[i] = Mix(hy[i] + 0xC2B2AE3D27D4EB4FUL * hz[i]);
    }

    /// <summary>The plug-in estimate, minus its value with X permuted when <see cref="HashCmiOptions.NullCorrection"/> is on.</summary>
    private double Corrected(ulong[] hx, ulong[] hz, ulong[] kyz, int[] nz, int[] nyz, Scratch s)
    {
        double v = PlugIn(hx, hz, kyz, nz, nyz, s);
        if (!Options.NullCorrection) return v;
        for (int i = 0; i < hx.Length; i++) s.Permuted[i] = hx[s.Permutation[i]];
        return Math.Max(Options.Floor, v - PlugIn(s.Permuted, hz, kyz, nz, nyz, s) + Options.Floor);
    }

    /// <summary>Cell key of every sample: coordinates floor((v + b)/ε) mixed into 64 bits (collisions ~N²/2⁶⁴, negligible).</summary>
    private static void HashVariable(Variable v, double scale, double shift, ulong salt, ulong[] keys)
    {
        int n = keys.Length;
        Array.Fill(keys, salt);
        for (int j = 0; j < v.Coords.Length; j++)
        {
            double eps = v.Bandwidth[j] * scale;
            double inv = 1.0 / eps, b = shift * eps;
            var c = v.Coords[j];
            for (int i = 0; i < n; i++)
            {
                long cell = (long)Math.Floor((c[i] + b) * inv);
                keys[i] = Mix(keys[i] ^ (ulong)cell);
            }
        }
    }

    /// <summary>
    /// (1/N)·Σ_i clip(log2(n_xyz·n_z / (n_xz·n_yz))) over samples, which weights each occupied cell by its count as the
    /// cell formula does. n_z and n_yz (and the (y,z) keys) come in precomputed: they do not depend on X.
    /// </summary>
    private double PlugIn(ulong[] hx, ulong[] hz, ulong[] kyz, int[] nz, int[] nyz, Scratch s)
    {
        int n = hx.Length;
        for (int i = 0; i < n; i++) s.Key[i] = Mix(hx[i] + 0x9E3779B97F4A7C15UL * hz[i]);
        s.Table.Count(s.Key, s.Slot, s.Nxz);
        for (int i = 0; i < n; i++) s.Key[i] = Mix(kyz[i] ^ Mix(hx[i] + 0x165667B19E3779F9UL));
        s.Table.Count(s.Key, s.Slot, s.Nxyz);
        double sum = 0, lo = Options.Floor, hi = Options.Upper;
        for (int i = 0; i < n; i++)
        {
            double r = Math.Log2((double)s.Nxyz[i] * nz[i] / ((double)s.Nxz[i] * nyz[i]));
            sum += Math.Clamp(r, lo, hi);
        }
        return sum / n;
    }

    /// <summary>First-pass hashes of one child group: its cell keys for every ensemble member.</summary>
    private sealed class ChildHashes(ulong[][] keys) { public readonly ulong[][] Keys = keys; }

    /// <summary>First-pass hashes and counts of one parent group: Z keys, (Y,Z) keys, n_z and n_yz per ensemble member.</summary>
    private sealed class ParentHashes(ulong[][] hz, ulong[][] kyz, int[][] nz, int[][] nyz)
    {
        public readonly ulong[][] Hz = hz, Kyz = kyz;
        public readonly int[][] Nz = nz, Nyz = nyz;
    }

    private ChildHashes HashChild(Variable x, int n, double gamma)
    {
        var keys = new ulong[Options.Ensemble][];
        for (int j = 0; j < keys.Length; j++)
        {
            var (scale, shift) = Setting(j, gamma);
            HashVariable(x, scale, shift, SaltX, keys[j] = new ulong[n]);
        }
        return new ChildHashes(keys);
    }

    private ParentHashes HashParent(Variable y, Variable z, int n, double gamma)
    {
        int l = Options.Ensemble;
        var hz = new ulong[l][]; var kyz = new ulong[l][]; var nz = new int[l][]; var nyz = new int[l][];
        var table = new CountTable(n);
        var slot = new int[n];
        var hy = new ulong[n];
        for (int j = 0; j < l; j++)
        {
            var (scale, shift) = Setting(j, gamma);
            HashVariable(y, scale, shift, SaltY, hy);
            HashVariable(z, scale, shift, SaltZ, hz[j] = new ulong[n]);
            table.Count(hz[j], slot, nz[j] = new int[n]);
            JoinYz(hy, hz[j], kyz[j] = new ulong[n]);
            table.Count(kyz[j], slot, nyz[j] = new int[n]);
        }
        return new ParentHashes(hz, kyz, nz, nyz);
    }

    private double EstimateCached(ChildHashes x, ParentHashes yz, Scratch s)
    {
        int l = Options.Ensemble;
        Span<double> est = l <= s.Estimates.Length ? s.Estimates.AsSpan(0, l) : new double[l];
        for (int j = 0; j < l; j++) est[j] = Corrected(x.Keys[j], yz.Hz[j], yz.Kyz[j], yz.Nz[j], yz.Nyz[j], s);
        return Median(est);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// Open-addressing count table over 64-bit keys, cleared in O(1) by a generation stamp. <see cref="Count"/> gives
    /// every sample the number of samples sharing its key.
    /// </summary>
    internal sealed class CountTable
    {
        private readonly ulong[] _keys;
        private readonly int[] _counts, _stamp;
        private readonly int _mask;
        private int _gen;

        public CountTable(int n)
        {
            int cap = 16;
            while (cap < 2 * n) cap <<= 1;
            _keys = new ulong[cap];
            _counts = new int[cap];
            _stamp = new int[cap];
            _mask = cap - 1;
        }

        public void Count(ulong[] keys, int[] slot, int[] count)
        {
            int gen = ++_gen;
            for (int i = 0; i < keys.Length; i++)
            {
                ulong k = keys[i];
                int h = (int)(k >> 20) & _mask;
                while (true)
                {
                    if (_stamp[h] != gen) { _stamp[h] = gen; _keys[h] = k; _counts[h] = 1; break; }
                    if (_keys[h] == k) { _counts[h]++; break; }
                    h = (h + 1) & _mask;
                }
                slot[i] = h;
            }
            for (int i = 0; i < keys.Length; i++) count[i] = _counts[slot[i]];
        }
    }

    /// <summary>
    /// Scores one pair. Projections are drawn once per layer (spec §13): the child layer's R_C gives each child
    /// group's X, the parent layer's R_P gives Y (its rows of the group) and Z = A_P·R_P minus the group's share, so
    /// no call projects the wide Z itself. Bandwidths are measured once per variable. Seeds are per (layer role, group).
    /// </summary>
    public double[,] ScorePair(ActivationMatrix parent, ActivationMatrix child, int[] parentStarts, int[] childStarts, ulong seed, Action? progress = null)
    {
        int n = parent.Rows;
        if (child.Rows != n) throw new ArgumentException("parent and child activations need the same rows");
        int gp = parentStarts.Length - 1, gc = childStarts.Length - 1;
        var xs = PrepareGroups(child, childStarts, seed, 0xC0UL, null);
        var (ys, zs) = PrepareParent(parent, parentStarts, seed);
        var r = new double[gc, gp];
        if (Options.SecondPass)
        {
            Parallelism.For(gc, c =>
            {
                var scratch = new Scratch(n, Rng.Derive(seed, 0xE0UL, (ulong)c).NextULong());
                for (int p = 0; p < gp; p++) r[c, p] = Estimate(xs[c], ys[p], zs[p], scratch);
                progress?.Invoke();
            });
            return r;
        }
        // One bandwidth setting per ensemble member: every variable's cell keys, and the counts that do not involve X,
        // are computed once per group instead of once per connection.
        double gamma = Options.AdaptiveGamma ? PickGamma(xs, ys, zs, n, seed) : Options.Gamma;
        LastGamma = gamma;
        var xh = new ChildHashes[gc];
        var ph = new ParentHashes[gp];
        Parallelism.For(gc, c => xh[c] = HashChild(xs[c], n, gamma));
        Parallelism.For(gp, p => ph[p] = HashParent(ys[p], zs[p], n, gamma));
        Parallelism.For(gc, c =>
        {
            var scratch = new Scratch(n, Rng.Derive(seed, 0xE0UL, (ulong)c).NextULong());
            for (int p = 0; p < gp; p++) r[c, p] = EstimateCached(xh[c], ph[p], scratch);
            progress?.Invoke();
        });
        return r;
    }

    /// <summary>γ chosen by the last <see cref="ScorePair"/> call on this instance (for records).</summary>
    public double LastGamma { get; private set; } = double.NaN;

    private double PickGamma(Variable[] xs, Variable[] ys, Variable[] zs, int n, ulong seed)
    {
        int[] Sample(int g) => Enumerable.Range(0, Math.Min(4, g)).Select(i => (int)((long)i * g / Math.Min(4, g))).ToArray();
        var cs = Sample(xs.Length);
        var ps = Sample(ys.Length);
        var grid = Options.GammaGrid;
        var mean = new double[grid.Length];
        Parallelism.For(grid.Length, k =>
        {
            var scratch = new Scratch(n, Rng.Derive(seed, 0xF0UL, (ulong)k).NextULong());
            var ph = ps.Select(p => HashParent(ys[p], zs[p], n, grid[k])).ToArray();
            double sum = 0;
            foreach (int c in cs)
            {
                var xh = HashChild(xs[c], n, grid[k]);
                foreach (var h in ph) sum += EstimateCached(xh, h, scratch);
            }
            mean[k] = sum / (cs.Length * ps.Length);
        });
        int best = 0;
        for (int k = 1; k < grid.Length; k++) if (mean[k] > mean[best]) best = k; // ties: the smaller γ, finer cells
        return grid[best];
    }

    private Variable[] PrepareGroups(ActivationMatrix a, int[] starts, ulong seed, ulong role, float[]? shared)
    {
        int g = starts.Length - 1, n = a.Rows;
        int kMax = ProjectedSize(a.Cols, n);
        var r = shared ?? ProjectionMatrix(a, kMax, Rng.Derive(seed, role));
        var vars = new Variable[g];
        Parallelism.For(g, i =>
        {
            int d = starts[i + 1] - starts[i];
            var cols = a.Columns(starts[i], d);
            float[][] coords;
            if (d <= Options.ProjectAbove) coords = ColumnsOf(cols);
            else
            {
                int k = ProjectedSize(d, n);
                var sub = new float[d * k];
                for (int row = 0; row < d; row++)
                    for (int j = 0; j < k; j++) sub[row * k + j] = r[(starts[i] + row) * kMax + j];
                coords = Project(cols, sub, k, 1.0 / Math.Sqrt(d));
            }
            vars[i] = Measure(coords, d, Rng.Derive(seed, role + 1, (ulong)i));
        });
        return vars;
    }

    private (Variable[] Y, Variable[] Z) PrepareParent(ActivationMatrix a, int[] starts, ulong seed)
    {
        int g = starts.Length - 1, n = a.Rows, np = a.Cols;
        int kMax = ProjectedSize(np, n);
        var r = ProjectionMatrix(a, kMax, Rng.Derive(seed, 0xA0UL));
        var ys = PrepareGroups(a, starts, seed, 0xB0UL, r);
        // Full product A_P·R once; each Z is it minus the excluded group's rows of R.
        float[][] full = Project(a, r, kMax, 1.0);
        var zs = new Variable[g];
        Parallelism.For(g, i =>
        {
            int start = starts[i], d = starts[i + 1] - start, dz = np - d;
            var rng = Rng.Derive(seed, 0xD0UL, (ulong)i);
            if (dz <= Options.ProjectAbove)
            {
                zs[i] = dz == 0 ? new Variable([], []) : Measure(ColumnsOf(a.WithoutColumns(start, d)), dz, rng);
                return;
            }
            int k = ProjectedSize(dz, n);
            double scale = 1.0 / Math.Sqrt(dz);
            var coords = new float[k][];
            for (int j = 0; j < k; j++)
            {
                var col = new float[n];
                for (int row = 0; row < n; row++)
                {
                    var ar = a.Data.AsSpan(row * np + start, d);
                    double part = 0;
                    for (int t = 0; t < d; t++) part += ar[t] * r[(start + t) * kMax + j];
                    col[row] = (float)((full[j][row] - part) * scale);
                }
                coords[j] = col;
            }
            zs[i] = Measure(coords, dz, rng);
        });
        return (ys, zs);
    }
}
