namespace Lopper.Optim;

/// <summary>Shape of the learning rate after warm-up.</summary>
public enum ScheduleKind
{
    /// <summary>Constant.</summary>
    Constant,
    /// <summary>Half-cosine from the base rate to zero at the last epoch.</summary>
    Cosine,
    /// <summary>Multiplied by gamma at each milestone epoch.</summary>
    Step,
}

/// <summary>
/// Learning rate as a function of fractional epoch: linear warm-up from base/warmup-steps, then
/// constant, cosine or step decay. Evaluated every iteration, so it is smooth within an epoch.
/// </summary>
public sealed record LrSchedule(float BaseLr, ScheduleKind Kind, int Epochs, double WarmupEpochs = 0, int[]? Milestones = null, float Gamma = 0.1f)
{
    /// <summary>Rate at position <paramref name="epoch"/> (e.g. 2.5 = half-way through the third epoch).</summary>
    public float At(double epoch)
    {
        if (WarmupEpochs > 0 && epoch < WarmupEpochs) return (float)(BaseLr * Math.Max(epoch, 1e-3) / WarmupEpochs);
        switch (Kind)
        {
            case ScheduleKind.Cosine:
                {
                    double span = Math.Max(1e-9, Epochs - WarmupEpochs);
                    double t = Math.Clamp((epoch - WarmupEpochs) / span, 0, 1);
                    return (float)(BaseLr * 0.5 * (1 + Math.Cos(Math.PI * t)));
                }
            case ScheduleKind.Step:
                {
                    float lr = BaseLr;
                    foreach (int m in Milestones ?? []) if (epoch >= m) lr *= Gamma;
                    return lr;
                }
            default:
                return BaseLr;
        }
    }

    /// <summary>Parses a schedule name from the command line.</summary>
    public static ScheduleKind ParseKind(string s) => s switch
    {
        "cosine" => ScheduleKind.Cosine,
        "step" => ScheduleKind.Step,
        "constant" => ScheduleKind.Constant,
        _ => throw LopperInputException.ForOptions<Training.TrainConfig>($"Schedule must be cosine, step or constant, got '{s}'", "Schedule"),
    };
}
