namespace Lopper.Optim;

/// <summary>
/// When gRDA's budget steering looks, and what it asks for then (<see cref="MacsSteering"/>, <see cref="ParamsSteering"/>):
/// 50 checks spread over the planned steps and one at the last; the share kept falls linearly from 1 to the target
/// over the first 70% of the steps and then holds it, so the budget is met well before the learning rate's last drop.
/// </summary>
internal readonly record struct SteeringSchedule(double Target, long TotalSteps)
{
    private const int Checks = 50;
    private const double SettleShare = 0.7;

    /// <summary>True when step <paramref name="step"/> (1-based) is a check.</summary>
    public bool Due(long step) => step >= TotalSteps || step % Math.Max(1, TotalSteps / Checks) == 0;

    /// <summary>The share the schedule keeps at <paramref name="step"/>.</summary>
    public double Goal(long step) => 1 - (1 - Target) * Math.Min(1, step / (SettleShare * TotalSteps));
}
