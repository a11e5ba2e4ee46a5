namespace Lopper.Pruning.Snacs;

/// <summary>
/// A support vector classifier with the RBF kernel exp(−γ‖a − b‖²), trained by SMO with LIBSVM's second-order
/// working-set selection, one-vs-one for several classes (majority vote, ties to the lower class), as scikit-learn's
/// SVC with C = 1, gamma = "scale" (1 / (features · variance of all entries)) and tol 1e-5 (spec §5). The full
/// training kernel is computed once; this is meant for probe sets of a few hundred samples.
/// </summary>
public sealed class RbfSvm
{
    private readonly ActivationMatrix _train;
    private readonly List<Machine> _machines = new();

    private sealed record Machine(int ClassA, int ClassB, int[] Rows, double[] Coef, double Bias);

    /// <summary>Kernel width γ.</summary>
    public double Gamma { get; }

    /// <summary>Number of classes seen in training.</summary>
    public int Classes { get; }

    /// <summary>Total support vectors over all binary machines.</summary>
    public int SupportVectors => _machines.Sum(m => m.Rows.Length);

    /// <summary>Trains on rows of <paramref name="x"/> with labels 0..classes-1.</summary>
    public RbfSvm(ActivationMatrix x, int[] labels, double c = 1.0, double? gamma = null, double tol = 1e-5, int maxIterations = 1_000_000)
    {
        if (labels.Length != x.Rows) throw new ArgumentException("one label per row");
        _train = x;
        Gamma = gamma ?? ScaleGamma(x);
        Classes = labels.Length == 0 ? 0 : labels.Max() + 1;
        var kernel = Kernel(x, x, Gamma);
        int n = x.Rows;
        var byClass = new List<int>[Classes];
        for (int k = 0; k < Classes; k++) byClass[k] = new List<int>();
        for (int i = 0; i < n; i++) byClass[labels[i]].Add(i);
        for (int a = 0; a < Classes; a++)
            for (int b = a + 1; b < Classes; b++)
            {
                if (byClass[a].Count == 0 || byClass[b].Count == 0) continue;
                var rows = byClass[a].Concat(byClass[b]).ToArray();
                var y = rows.Select(r => labels[r] == a ? 1.0 : -1.0).ToArray();
                var (alpha, bias) = Smo(kernel, n, rows, y, c, tol, maxIterations);
                var sv = new List<int>();
                var coef = new List<double>();
                for (int i = 0; i < rows.Length; i++)
                    if (alpha[i] > 0) { sv.Add(rows[i]); coef.Add(alpha[i] * y[i]); }
                _machines.Add(new Machine(a, b, sv.ToArray(), coef.ToArray(), bias));
            }
    }

    /// <summary>scikit-learn's gamma = "scale": 1 / (features · variance of every entry), 1 when the variance is 0.</summary>
    public static double ScaleGamma(ActivationMatrix x)
    {
        double mean = 0, sq = 0;
        foreach (var v in x.Data) { mean += v; sq += (double)v * v; }
        long n = x.Data.LongLength;
        if (n == 0) return 1;
        mean /= n;
        double var = sq / n - mean * mean;
        return var > 0 ? 1.0 / (x.Cols * var) : 1.0;
    }

    /// <summary>RBF kernel matrix between the rows of a and b (row-major a.Rows × b.Rows).</summary>
    public static float[] Kernel(ActivationMatrix a, ActivationMatrix b, double gamma)
    {
        var k = PairwiseDistances.Squared(a, b);
        TensorPrimitives.Multiply(k, (float)-gamma, k);
        TensorPrimitives.Exp(k, k);
        return k;
    }

    /// <summary>
    /// Binary SMO on the dual min ½αᵀQα − Σα, 0 ≤ α ≤ C, yᵀα = 0 (Q = y y K), rows indexing the full kernel.
    /// Working set: i maximises −y·G over the "up" set, j minimises LIBSVM's second-order gain; stops when the
    /// maximal violation is below tol.
    /// </summary>
    private static (double[] Alpha, double Bias) Smo(float[] kernel, int stride, int[] rows, double[] y, double c, double tol, int maxIterations)
    {
        int n = rows.Length;
        var alpha = new double[n];
        var grad = new double[n];
        Array.Fill(grad, -1.0);
        double K(int i, int j) => kernel[rows[i] * stride + rows[j]];
        bool Up(int t) => (y[t] > 0 && alpha[t] < c) || (y[t] < 0 && alpha[t] > 0);
        bool Low(int t) => (y[t] > 0 && alpha[t] > 0) || (y[t] < 0 && alpha[t] < c);
        for (int iter = 0; iter < maxIterations; iter++)
        {
            int i = -1;
            double gmax = double.NegativeInfinity, gmin = double.PositiveInfinity;
            for (int t = 0; t < n; t++)
                if (Up(t) && -y[t] * grad[t] > gmax) { gmax = -y[t] * grad[t]; i = t; }
            if (i < 0) break;
            int j = -1;
            double best = double.PositiveInfinity;
            double kii = K(i, i);
            for (int t = 0; t < n; t++)
            {
                if (!Low(t)) continue;
                double v = -y[t] * grad[t];
                if (v < gmin) gmin = v;
                double b = gmax - v;
                if (b <= 0) continue;
                double a = kii + K(t, t) - 2 * K(i, t);
                if (a <= 0) a = 1e-12;
                double gain = -(b * b) / a;
                if (gain < best) { best = gain; j = t; }
            }
            if (j < 0 || gmax - gmin < tol) break;
            // Two-variable update along y_i α_i + y_j α_j = const, clipped to the box.
            double quad = kii + K(j, j) - 2 * K(i, j);
            if (quad <= 0) quad = 1e-12;
            double oldI = alpha[i], oldJ = alpha[j];
            double delta = (-y[i] * grad[i] + y[j] * grad[j]) / quad;
            double sum = y[i] * oldI + y[j] * oldJ;
            double ai = oldI + y[i] * delta;
            ai = Math.Clamp(ai, 0, c);
            double aj = y[j] * (sum - y[i] * ai);
            if (aj < 0 || aj > c)
            {
                aj = Math.Clamp(aj, 0, c);
                ai = y[i] * (sum - y[j] * aj);
                ai = Math.Clamp(ai, 0, c);
            }
            alpha[i] = ai;
            alpha[j] = aj;
            double di = ai - oldI, dj = aj - oldJ;
            for (int t = 0; t < n; t++)
                grad[t] += y[t] * (y[i] * K(t, i) * di + y[j] * K(t, j) * dj);
        }
        // Bias from the free vectors (mean), else the midpoint of the feasible interval, as LIBSVM.
        double sumFree = 0, ub = double.PositiveInfinity, lb = double.NegativeInfinity;
        int free = 0;
        for (int t = 0; t < n; t++)
        {
            double yg = y[t] * grad[t];
            if (alpha[t] > 0 && alpha[t] < c) { sumFree += yg; free++; }
            else if ((alpha[t] >= c && y[t] < 0) || (alpha[t] <= 0 && y[t] > 0)) ub = Math.Min(ub, yg);
            else lb = Math.Max(lb, yg);
        }
        double rho = free > 0 ? sumFree / free : (double.IsFinite(ub) && double.IsFinite(lb) ? (ub + lb) / 2 : double.IsFinite(ub) ? ub : double.IsFinite(lb) ? lb : 0);
        return (alpha, -rho);
    }

    /// <summary>Predicted class of every row of <paramref name="x"/>.</summary>
    public int[] Predict(ActivationMatrix x)
    {
        var k = Kernel(x, _train, Gamma);
        int n = x.Rows, m = _train.Rows;
        var pred = new int[n];
        var votes = new int[Math.Max(Classes, 1)];
        for (int r = 0; r < n; r++)
        {
            Array.Clear(votes);
            var row = k.AsSpan(r * m, m);
            foreach (var mc in _machines)
            {
                double f = mc.Bias;
                for (int s = 0; s < mc.Rows.Length; s++) f += mc.Coef[s] * row[mc.Rows[s]];
                votes[f > 0 ? mc.ClassA : mc.ClassB]++;
            }
            int best = 0;
            for (int c = 1; c < votes.Length; c++) if (votes[c] > votes[best]) best = c;
            pred[r] = best;
        }
        return pred;
    }

    /// <summary>Fraction of rows predicted as their label.</summary>
    public double Accuracy(ActivationMatrix x, int[] labels)
    {
        var p = Predict(x);
        int ok = 0;
        for (int i = 0; i < p.Length; i++) if (p[i] == labels[i]) ok++;
        return p.Length == 0 ? 0 : (double)ok / p.Length;
    }
}
