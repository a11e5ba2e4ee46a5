using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Structure;
using Lopper.Training;

namespace Lopper.Pruning.ComplexityAware;

/// <summary>Turns a <see cref="Trainer"/> into a complexity-aware one: gates in, gate thetas away from the optimizer, hook on.</summary>
public static class ComplexityAwareTraining
{
    /// <summary>
    /// Inserts gates into the trainer's model unless it has them (a resumed gated checkpoint keeps its thetas),
    /// keeps the optimizer off the gate probabilities, and adds the hook. <paramref name="denseParams"/> and
    /// <paramref name="denseMacs"/> are the counts of the network before any gate training (they normalise
    /// the complexity term, so a resumed run must pass the original ones). Call after any
    /// <see cref="Trainer.RestoreFrom"/> and before the hooks that read the epoch record.
    /// </summary>
    public static ComplexityAwareHook Attach(Trainer trainer, ComplexityAwareOptions options, long denseParams, long denseMacs, int batchesPerEpoch, Action<string>? log = null)
    {
        options.Validate();
        // A run resumed after its gates were folded (settle epochs) goes on without them.
        bool folded = !GateInsertion.HasGates(trainer.Model) && trainer.CompletedEpochs >= options.FoldAfter(trainer.Config.Epochs);
        if (!folded && !GateInsertion.HasGates(trainer.Model))
        {
            var gated = GateInsertion.Insert(trainer.Model, trainer.Config.BatchSize, options.GateDownsampling);
            trainer.ReplaceModel(gated, ParameterSlicing.Identity(gated));
        }
        trainer.ExcludeFromOptimizer = p => p.Owner.Op is GateOp;
        var hook = new ComplexityAwareHook(trainer, options, denseParams, denseMacs, batchesPerEpoch, log) { Finished = folded };
        trainer.AddHook(hook);
        var gates = GateSet.Of(trainer.Model);
        int units = gates.Gates.Where(g => !g.IsBlock).Sum(g => g.Size), blocks = gates.Gates.Count(g => g.IsBlock);
        log?.Invoke($"gates: {units} unit gate(s) in {gates.Gates.Count - blocks} group(s), {blocks} block gate(s); strength {options.Strength}, flops-vs-params {options.FlopsVsParams}, layers-vs-units {options.LayersVsUnits}, gate lr x{options.GateLr}");
        return hook;
    }
}
