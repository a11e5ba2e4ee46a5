using Lopper.Tensors;

namespace Lopper.Optim;

/// <summary>
/// Unstructured gRDA's parameter target (<see cref="Grda.UseParamsTarget"/>): at 50 checks spread over the planned
/// steps (and at the last) the threshold becomes the accumulator magnitude that leaves a scheduled share of the
/// model's trainable values nonzero: the share falls linearly from 1 to the target over the first 70% of the steps
/// and then holds it. Between checks the threshold stays, so zeros can still revive as the accumulators move; the
/// last step's check puts the model on the target.
/// </summary>
/// <remarks>
/// The paper sets the sparsity through c and μ, and what a pair reaches depends on the data, the learning rate and
/// the run's length: the full grid's runs at c 0.015 and μ 0.6 / 0.7 kept 7.2 % and 3.7 % of the values, so a user
/// after a budget (half of the parameters, as magnitude pruning is given) could only find c by trial runs. The
/// steered threshold keeps gRDA's dual averaging and soft-threshold and replaces only its growth schedule; the
/// linear schedule to 70% of the steps is the one structured gRDA's MACs target uses (<see cref="MacsSteering"/>).
/// </remarks>
internal sealed class ParamsSteering
{
    private readonly SteeringSchedule _schedule;
    private readonly long _total;
    private readonly long _uncovered;
    private float[] _magnitudes = [];

    /// <summary>
    /// Steers toward <paramref name="target"/> of the <paramref name="total"/> trainable values, of which
    /// <paramref name="uncovered"/> are not soft-thresholded (they count as kept).
    /// </summary>
    public ParamsSteering(double target, long totalSteps, long total, long uncovered)
    {
        _schedule = new SteeringSchedule(target, totalSteps);
        _total = total;
        _uncovered = uncovered;
    }

    /// <summary>True when step <paramref name="step"/> (1-based) is a check.</summary>
    public bool Due(long step) => _schedule.Due(step);

    /// <summary>The share of the trainable values the schedule keeps at <paramref name="step"/>.</summary>
    public double Goal(long step) => _schedule.Goal(step);

    /// <summary>
    /// The threshold that leaves <see cref="Goal"/> of the values nonzero after step <paramref name="step"/>: values
    /// with |a| above it survive the soft-threshold. 0 where the goal keeps every covered value.
    /// </summary>
    public float Threshold(long step, IReadOnlyList<Tensor> accumulators)
    {
        long covered = 0;
        foreach (var a in accumulators) covered += a.Length;
        long keep = Math.Max(0, (long)Math.Round(Goal(step) * _total) - _uncovered);
        if (keep >= covered) return 0f;
        if (_magnitudes.Length != covered) _magnitudes = new float[covered];
        int at = 0;
        foreach (var a in accumulators)
        {
            TensorPrimitives.Abs(a.Span, _magnitudes.AsSpan(at, a.Length));
            at += a.Length;
        }
        // The (covered - keep)-th smallest magnitude: it and everything below it go to zero.
        Array.Sort(_magnitudes);
        return _magnitudes[covered - keep - 1];
    }
}
