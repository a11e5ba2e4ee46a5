using Lopper.Pruning.Snacs;

namespace Lopper.Cli.Commands;

/// <summary>Reads the `lopper prune snacs` flags.</summary>
public static class SnacsFlags
{
    /// <summary>Usage lines for the prune command's help.</summary>
    public const string Usage = """
          snacs:    --target-params F (fraction kept, bisection on the global quantile) | --quantile q
                    --probe-per-class N (default 250)  --ul-probe-per-class N (default 50)  --groups G (default 16)
                    --sensitivity low|high|none (default low)  --protect F (default 0.25)  --estimator hash|mint
                    --phi weight|none (default weight)  --weight-range conv-linear|all  --ul-step F (default 0.02)
                    --beta F (default 0.7)  --no-upper-limits
        """;

    /// <summary>The pruner from the flags.</summary>
    public static SnacsPruner Create(Args a) => new(new SnacsOptions
    {
        TargetParams = a.Has("target-params") ? a.Real("target-params", 0.5) : null,
        Quantile = a.Has("quantile") ? a.Real("quantile", 0.5) : null,
        ProbePerClass = a.Int("probe-per-class", 250, 2),
        UlProbePerClass = a.Int("ul-probe-per-class", 50, 1),
        Groups = a.Int("groups", 16, 1),
        Sensitivity = a.Str("sensitivity", "low") switch
        {
            "low" => SensitivityMode.Low,
            "high" => SensitivityMode.High,
            "none" => SensitivityMode.None,
            var s => throw new LopperInputException($"--sensitivity must be low, high or none, got '{s}'"),
        },
        ProtectFraction = a.Real("protect", 0.25),
        Estimator = a.Str("estimator", "hash"),
        WeightScaled = a.Str("phi", "weight") switch
        {
            "weight" => true,
            "none" => false,
            var s => throw new LopperInputException($"--phi must be weight or none, got '{s}'"),
        },
        WeightRange = a.Str("weight-range", "conv-linear") switch
        {
            "conv-linear" => WeightRange.ConvLinear,
            "all" => WeightRange.AllParameters,
            var s => throw new LopperInputException($"--weight-range must be conv-linear or all, got '{s}'"),
        },
        UlStep = a.Real("ul-step", 0.02),
        Beta = a.Real("beta", 0.7),
        NoUpperLimits = a.Flag("no-upper-limits"),
    });
}
