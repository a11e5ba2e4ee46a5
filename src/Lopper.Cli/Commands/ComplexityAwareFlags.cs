using Lopper.Pruning.ComplexityAware;

namespace Lopper.Cli.Commands;

/// <summary>The complexity-aware flags shared by `lopper train --method complexity-aware` and `lopper prune complexity-aware`.</summary>
public static class ComplexityAwareFlags
{
    private static readonly string[] Names = ["strength", "flops-vs-params", "layers-vs-units", "gate-lr", "check-every", "zero-checks", "gate-warmup", "settle-epochs", "no-gate-downsampling"];

    /// <summary>True when any of the flags is present (marks them as read).</summary>
    public static bool AnyGiven(Args a)
    {
        bool any = false;
        foreach (var n in Names) any |= a.Has(n);
        return any;
    }

    /// <summary>Reads and validates the settings.</summary>
    public static ComplexityAwareOptions Read(Args a)
    {
        var d = new ComplexityAwareOptions();
        return new ComplexityAwareOptions
        {
            Strength = a.Real("strength", d.Strength, 0),
            FlopsVsParams = a.Real("flops-vs-params", d.FlopsVsParams, 0, 1),
            LayersVsUnits = a.Real("layers-vs-units", d.LayersVsUnits, 0, 1),
            GateLr = a.Real("gate-lr", d.GateLr, 0),
            CheckEvery = a.Int("check-every", d.CheckEvery, 1),
            ZeroChecks = a.Int("zero-checks", d.ZeroChecks, 1),
            WarmupEpochs = a.Real("gate-warmup", d.WarmupEpochs, 0),
            SettleEpochs = a.Int("settle-epochs", d.SettleEpochs, 0),
            GateDownsampling = !a.Flag("no-gate-downsampling"),
        }.Validate();
    }
}
