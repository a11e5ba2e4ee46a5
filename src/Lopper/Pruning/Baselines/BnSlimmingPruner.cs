using Lopper.Graph;
using Lopper.Methods;
using Lopper.Structure;
using Lopper.Training;

namespace Lopper.Pruning.Baselines;

/// <summary>Options of <see cref="BnSlimmingPruner"/>: the budget plus the sparsity training before scoring.</summary>
public sealed record BnSlimmingOptions : BudgetOptions
{
    /// <summary>L1 coefficient on batch-norm scales during sparsity training.</summary>
    [Option("L1 coefficient on batch-norm scales during sparsity training")]
    public double Sparsity { get; init; } = 1e-4;

    /// <summary>Epochs of sparsity training before scoring (0 scores the model as it is).</summary>
    [Option("epochs of sparsity training before scoring (0 = none)")]
    public int SparsityEpochs { get; init; } = 1;
}

/// <summary>
/// Network slimming (Liu et al. 2017): train with an L1 penalty on batch-norm scales, then remove the
/// channels with the smallest |gamma| under one global threshold (no per-group normalisation: the
/// penalty already puts all scales on one footing).
/// </summary>
public sealed class BnSlimmingPruner(Budget budget, double sparsity = 1e-4, int sparsityEpochs = 1) : ChannelPruner(budget)
{
    /// <summary>L1 coefficient on gammas during sparsity training.</summary>
    public double Sparsity { get; } = sparsity;
    /// <summary>Epochs of sparsity training before pruning (0 = score the model as it is).</summary>
    public int SparsityEpochs { get; } = sparsityEpochs;

    /// <inheritdoc/>
    public override string Name => "bn-slimming";

    /// <summary>The registry's entry.</summary>
    public static PruningMethodInfo Info { get; } = PruningMethodInfo.Create<BnSlimmingOptions>(
        "bn-slimming", "network slimming: L1 on batch-norm scales, then the smallest go (Liu et al. 2017)", Create, "target-macs");

    private static BnSlimmingPruner Create(BnSlimmingOptions o)
    {
        if (!(o.Sparsity >= 0 && double.IsFinite(o.Sparsity))) throw LopperInputException.ForOptions<BnSlimmingOptions>($"Sparsity must be a finite number >= 0, got {o.Sparsity}", nameof(o.Sparsity));
        if (o.SparsityEpochs < 0) throw LopperInputException.ForOptions<BnSlimmingOptions>($"SparsityEpochs must be at least 0, got {o.SparsityEpochs}", nameof(o.SparsityEpochs));
        return new BnSlimmingPruner(o.ToBudget(), o.Sparsity, o.SparsityEpochs);
    }

    /// <inheritdoc/>
    protected override bool NormalizePerGroup => false;

    /// <inheritdoc/>
    protected override Dictionary<int, double[]> Score(PruneContext context, ChannelGroups groups)
    {
        if (SparsityEpochs > 0)
        {
            context.Log($"sparsity training: {SparsityEpochs} epoch(s), L1 {Sparsity:g3} on batch-norm scales");
            var config = context.TrainConfig with { Epochs = SparsityEpochs };
            var trainer = new Trainer(context.Model, config, context.Train, null, null) { Progress = context.Progress };
            trainer.AddHook(new GammaL1Hook((float)Sparsity));
            trainer.Run();
        }
        return ChannelImportance.BatchNormScale(context.Model, groups);
    }

    /// <summary>Adds the subgradient of lambda*|gamma| to every batch-norm scale gradient.</summary>
    private sealed class GammaL1Hook(float lambda) : ITrainingHook
    {
        public void AfterBackward(Model model, int epoch, int step)
        {
            foreach (var p in model.Parameters)
            {
                if (p.Owner.Op.Type != "batchnorm2d" || p.Spec.Name != "weight" || p.Grad is null) continue;
                var w = p.Value.Span;
                var g = p.Grad.Span;
                for (int i = 0; i < w.Length; i++) g[i] += lambda * MathF.Sign(w[i]);
            }
        }
    }
}
