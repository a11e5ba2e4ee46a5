using Lopper.Data;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;

namespace Lopper.Training;

/// <summary>Re-estimates batch-norm running statistics from training batches.</summary>
public static class BatchNormRecalibration
{
    /// <summary>Whether <paramref name="model"/> has a batch-norm layer that keeps running statistics.</summary>
    public static bool HasBatchNorm(Model model) => model.Graph.Nodes.Any(n => n.Op is BatchNorm2dOp { Momentum: > 0 });

    /// <summary>
    /// Sets every batch-norm layer's running statistics to the plain average of its batch statistics over
    /// <paramref name="batches"/> training batches (the cumulative average the gRDA paper uses). Each
    /// layer's own exponential update would leave the reset values a weight of (1 − momentum)^batches,
    /// which for 10–20 batches still distorts the statistics enough to wreck the loss. The batch statistic
    /// is read back from one update applied to zeroed statistics: running = momentum · batch. Used on points
    /// of a loss path and, with `lopper prune --bn-recalibrate N`, on a freshly pruned network, whose old
    /// statistics no longer match its layers' outputs.
    /// </summary>
    public static void Run(Model model, DataLoader loader, int batches, ulong seed)
    {
        var layers = new List<(Tensor Mean, Tensor Var, float Momentum, double[] MeanSum, double[] VarSum)>();
        foreach (var node in model.Graph.Nodes)
        {
            if (node.Op is not BatchNorm2dOp bn || bn.Momentum <= 0) continue;
            var mean = model.Find(node.Name + ".running_mean")!.Value;
            var variance = model.Find(node.Name + ".running_var")!.Value;
            layers.Add((mean, variance, (float)bn.Momentum, new double[mean.Length], new double[variance.Length]));
        }
        var executor = new Executor(model);
        for (int b = 0; b < batches; b++)
        {
            foreach (var l in layers) { l.Mean.Span.Clear(); l.Var.Span.Clear(); }
            using var batch = loader.GetBatch(b / loader.BatchesPerEpoch, b % loader.BatchesPerEpoch);
            executor.Forward(batch.Images, training: true, forBackward: false, Rng.Derive(seed, 0x6e7, (ulong)b + 1));
            executor.EndStep();
            foreach (var l in layers)
            {
                var m = l.Mean.Span; var v = l.Var.Span;
                for (int i = 0; i < m.Length; i++) { l.MeanSum[i] += m[i] / l.Momentum; l.VarSum[i] += v[i] / l.Momentum; }
            }
        }
        foreach (var l in layers)
        {
            var m = l.Mean.Span; var v = l.Var.Span;
            for (int i = 0; i < m.Length; i++) { m[i] = (float)(l.MeanSum[i] / batches); v[i] = (float)(l.VarSum[i] / batches); }
        }
    }
}
