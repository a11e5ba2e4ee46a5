using Lopper.Methods;
using Lopper.Structure;
using Lopper.Training;

namespace Lopper.Pruning.ComplexityAware;

/// <summary>Options of <see cref="ComplexityAwarePruner"/>: the gate settings plus how long gates train from the trained model.</summary>
public sealed record ComplexityAwarePruneOptions : ComplexityAwareOptions
{
    /// <summary>Epochs of gate training from the trained model (at the fine-tuning learning rate).</summary>
    [Option("epochs of gate training from the trained model")]
    public int GateEpochs { get; init; } = 1;

    /// <inheritdoc/>
    public override ComplexityAwareOptions Validate()
    {
        if (GateEpochs < 1) throw LopperInputException.ForOptions<ComplexityAwarePruneOptions>($"GateEpochs must be at least 1, got {GateEpochs}", nameof(GateEpochs));
        return base.Validate();
    }
}

/// <summary>
/// `lopper prune complexity-aware`: the gate training of Guenter and Sideris (arXiv 2411.09127) started from a
/// trained model instead of from scratch. Gates go in at theta = 1, the network trains with them for
/// <see cref="GateEpochs"/> epochs (structures deleted as they die), and the end state is an ordinary
/// compact network (fine-tuning, if asked, follows as for every method).
/// </summary>
public sealed class ComplexityAwarePruner(ComplexityAwareOptions options, int gateEpochs) : IPruningMethod
{
    /// <summary>The settings.</summary>
    public ComplexityAwareOptions Options { get; } = options.Validate();

    /// <summary>Epochs of gate training.</summary>
    public int GateEpochs { get; } = gateEpochs >= 1 ? gateEpochs : throw LopperInputException.ForOptions<ComplexityAwarePruneOptions>($"GateEpochs must be at least 1, got {gateEpochs}", nameof(ComplexityAwarePruneOptions.GateEpochs));

    /// <summary>The registry's entry.</summary>
    public static PruningMethodInfo Info { get; } = PruningMethodInfo.Create<ComplexityAwarePruneOptions>(
        "complexity-aware", "Bernoulli gates on units and residual blocks under a MACs/params-aware cost", o => new ComplexityAwarePruner(o, o.GateEpochs), "target-macs");

    /// <inheritdoc/>
    public string Name => "complexity-aware";

    /// <inheritdoc/>
    public PruneOutcome Prune(PruneContext context)
    {
        var (p0, m0) = CostCounter.Totals(context.Model.Graph);
        var trainer = new Trainer(context.Model, context.TrainConfig with { Epochs = GateEpochs }, context.Train, context.Test, null) { Progress = context.Progress };
        var hook = ComplexityAwareTraining.Attach(trainer, Options, p0, m0, context.Train.BatchesPerEpoch, context.Log);
        trainer.AddHook(new EpochLine(context.Log, GateEpochs));
        trainer.Run();
        var details = hook.Details();
        details["gate_epochs"] = GateEpochs;
        details["history"] = trainer.History.DeepClone();
        return new PruneOutcome { Pruned = trainer.Model, Details = details };
    }

    /// <summary>One line per gate-training epoch (the prune command has no epoch logger of its own for this phase).</summary>
    private sealed class EpochLine(Action<string> log, int epochs) : ITrainingHook
    {
        public void EndEpoch(Lopper.Graph.Model model, int epoch, System.Text.Json.Nodes.JsonObject r) =>
            log($"gate epoch {epoch + 1}/{epochs}: loss {(double)r["train_loss"]!:F4} test {((double?)r["test_accuracy"] ?? 0) * 100:F2}% " +
                $"{(long)r["macs"]! / 1e6:F2}M MACs ({(double)r["macs_kept"]! * 100:F1}%) {(double)r["train_seconds"]!:F1}s");
    }
}
