using Lopper.Graph;
using Lopper.Structure;

namespace Lopper.Optim;

/// <summary>
/// Structured gRDA's MACs target (<see cref="Grda.Kappa"/>). A channel of group g with accumulator norm ‖a‖ dies
/// under the group soft-threshold exactly when κ·T·√n_g ≥ ‖a‖, i.e. when κ reaches its ratio r = ‖a‖ / (T·√n_g).
/// At a check the channels are ordered by r, the fewest of them whose removal brings the graph's MACs under the
/// schedule's share are chosen (a bisection over the count, costing the resized graph), and κ is placed between
/// the last chosen ratio and the next, as near to 1 (plain gRDA) as that gap allows.
/// </summary>
/// <remarks>
/// A fixed c and μ reach a sparsity that depends on the data, the learning rate and the run's length, so a user
/// could only find the c for a budget by trial runs. Choosing the factor from the accumulators keeps gRDA's
/// dynamics (dual averaging, soft-thresholding, revival between checks) and lets the user state the budget. The
/// schedule falls linearly from the dense MACs to the target over the first 70% of the steps and then holds it;
/// the last step is always a check, so the trained model meets the budget.
/// </remarks>
internal sealed class MacsSteering(ModelGraph graph, ChannelGroups groups, int[] groupIds, double target, long totalSteps)
{
    private const int Checks = 200;
    private const double SettleShare = 0.7, Margin = 1e-4;

    private readonly long _denseMacs = CostCounter.Totals(graph).Macs;
    private readonly int[] _dead = new int[groups.Groups.Count];
    private double[]? _ratios;
    private int[]? _owners;
    private double[]? _floors;
    private double[]? _sorted;
    private double[][]? _currentNorms;

    /// <summary>
    /// Share of each group's channels (at least one) that steering never removes: the strongest by accumulator norm
    /// keep gRDA's own threshold. Without it the steering emptied whole groups whose channels are cheap in MACs
    /// (a first ResNet-20 run lost its last stage's residual stream and fell to chance).
    /// </summary>
    public const double KeptShare = 0.25;

    /// <summary>Marks each group's strongest channels (see <see cref="KeptShare"/>) for this step.</summary>
    public void Protect(double[][] norms)
    {
        _floors ??= new double[norms.Length];
        _currentNorms = norms;
        for (int gi = 0; gi < norms.Length; gi++)
        {
            int n = norms[gi].Length, keep = Math.Max(1, (int)Math.Ceiling(KeptShare * n));
            if (_sorted is null || _sorted.Length < n) _sorted = new double[Math.Max(n, 64)];
            var buf = _sorted.AsSpan(0, n);
            norms[gi].CopyTo(buf);
            buf.Sort();
            _floors[gi] = buf[n - keep];
        }
    }

    /// <summary>True when channel <paramref name="c"/> of steered group <paramref name="gi"/> is protected this step.</summary>
    public bool IsProtected(int gi, int c) => _floors![gi] <= _currentNorms![gi][c];

    /// <summary>Share of the MACs the live channels cost after the last check.</summary>
    public double? LastKept { get; private set; }

    /// <summary>True when step <paramref name="step"/> (1-based) is a check.</summary>
    public bool Due(long step) => step >= totalSteps || step % Math.Max(1, totalSteps / Checks) == 0;

    /// <summary>
    /// The threshold factor for a check at <paramref name="step"/>, given gRDA's threshold <paramref name="t"/>, each
    /// steered group's channel norms and √n (in the order of the steered groups).
    /// </summary>
    public double Choose(long step, float t, double[][] norms, double[] rootN)
    {
        int total = 0;
        foreach (var g in norms) total += g.Length;
        _ratios ??= new double[total];
        _owners ??= new int[total];
        for (int gi = 0, at = 0; gi < norms.Length; gi++)
            for (int c = 0; c < norms[gi].Length; c++, at++)
            {
                // Protected channels sort last and are never chosen.
                _ratios[at] = IsProtected(gi, c) ? double.PositiveInfinity : norms[gi][c] / (t * rootN[gi]);
                _owners[at] = groupIds[gi];
            }
        Array.Sort(_ratios, _owners);
        double goal = 1 - (1 - target) * Math.Min(1, step / (SettleShare * totalSteps));
        // Channels with a zero norm die whatever the factor.
        int zeros = 0;
        while (zeros < total && _ratios[zeros] == 0) zeros++;
        int choosable = 0;
        while (choosable < total && !double.IsPositiveInfinity(_ratios[choosable])) choosable++;
        int lo = zeros, hi = choosable;
        if (Kept(lo) > goal)
        {
            while (hi - lo > 1)
            {
                int mid = (lo + hi) / 2;
                if (Kept(mid) <= goal) hi = mid; else lo = mid;
            }
            lo = hi;
        }
        int killed = lo;
        LastKept = Kept(killed);
        // κ must reach the last chosen ratio and stay under the next, with a margin for the float rounding of κ·T.
        double below = killed == 0 ? 0 : _ratios[killed - 1] * (1 + Margin);
        double above = killed == choosable ? double.PositiveInfinity : _ratios[killed] / (1 + Margin);
        if (below >= above) return Math.Sqrt(_ratios[killed - 1] * _ratios[killed]);
        return Math.Clamp(1.0, below, above);
    }

    // Share of the MACs left when the first `killed` channels of the ordering are gone; a group keeps at least one
    // channel when compacted, so it is costed that way.
    private double Kept(int killed)
    {
        Array.Clear(_dead);
        for (int i = 0; i < killed; i++) _dead[_owners![i]]++;
        var resized = ChannelSurgery.ResizedGraph(graph, groups, g => Math.Max(1, groups.Groups[g].Channels - _dead[g]));
        return _denseMacs == 0 ? 1 : (double)CostCounter.Totals(resized).Macs / _denseMacs;
    }
}
