using Lopper.Graph;

namespace Lopper.Measurement;

/// <summary>One layer of a model timed beside the same-named layer of a reference (its dense source, say).</summary>
/// <param name="Node">The node's name.</param>
/// <param name="Op">Its op type.</param>
/// <param name="Ms">Milliseconds per batch in the model; null where the model has no such node (a removed block).</param>
/// <param name="ReferenceMs">Milliseconds per batch in the reference; null without one, or where it has no such node.</param>
/// <param name="Macs">Multiply-adds per image the model's node does with nonzero weights (0 without the node).</param>
/// <param name="ReferenceMacs">The same in the reference.</param>
/// <param name="Kernel">What the model's node ran on (<see cref="Op.InferenceKernel"/>), or null.</param>
public sealed record LayerTime(string Node, string Op, double? Ms, double? ReferenceMs, long Macs, long ReferenceMacs, string? Kernel);

/// <summary>
/// Where a model's inference time goes, layer by layer, and against a reference model: both batch-norm folded and run
/// as deployed (<see cref="SplitBatchInference"/>), in alternation pass for pass, each layer's median pass in
/// thread-seconds over the thread count, so that the layers add up to about the wall time. The question it answers:
/// which layers of a pruned model did not get as much faster as their multiply-adds went down.
/// </summary>
public static class LayerProfile
{
    /// <summary>
    /// Times <paramref name="model"/> (and <paramref name="reference"/>, when given) over <paramref name="passes"/>
    /// passes of a seeded batch of <paramref name="batch"/> after <paramref name="warmup"/> untimed ones; layers with
    /// multiply-adds in either model, in the model's order, then the reference's layers the model lacks.
    /// </summary>
    public static IReadOnlyList<LayerTime> Compare(Model model, Model? reference, int batch, int passes = 10, int warmup = 3)
    {
        if (passes < 1) throw new ArgumentOutOfRangeException(nameof(passes), "at least one timed pass");
        Model[] models = reference is null ? [model] : [model, reference];
        var runs = models.Select(m => Latency.Deployment(m, batch)).Select(d => (Folded: d.Model, d.Run, d.Input)).ToList();
        for (int i = 0; i < warmup; i++)
            foreach (var r in runs) r.Run.Forward(r.Input).Release();
        foreach (var r in runs) r.Run.Timings = new OpTimings(r.Folded.Graph.Nodes.Count);
        // Each pass's time per node (the timings accumulate): a layer's median pass is steadier than its mean on a
        // shared machine, where one slow pass can double a sub-millisecond layer's mean.
        var perPass = runs.Select(r => Enumerable.Range(0, r.Folded.Graph.Nodes.Count).Select(_ => new double[passes]).ToArray()).ToList();
        var before = runs.Select(r => new double[r.Folded.Graph.Nodes.Count]).ToList();
        for (int pass = 0; pass < passes; pass++)
            for (int k = 0; k < runs.Count; k++)
            {
                runs[k].Run.Forward(runs[k].Input).Release();
                for (int i = 0; i < before[k].Length; i++)
                {
                    double total = runs[k].Run.Timings!.ForwardSeconds(i);
                    perPass[k][i][pass] = total - before[k][i];
                    before[k][i] = total;
                }
            }
        var times = runs.Select((r, k) => Layers(r.Folded, r.Run, perPass[k])).ToList();
        var mine = times[0];
        var theirs = times.Count > 1 ? times[1] : [];
        var rows = new List<LayerTime>();
        foreach (var (name, t) in mine)
        {
            theirs.TryGetValue(name, out var other);
            rows.Add(new LayerTime(name, t.Op, t.Ms, other?.Ms, t.Macs, other?.Macs ?? 0, t.Kernel));
        }
        foreach (var (name, t) in theirs)
            if (!mine.ContainsKey(name)) rows.Add(new LayerTime(name, t.Op, null, t.Ms, 0, t.Macs, null));
        return rows;
    }

    private sealed record Timed(string Op, double Ms, long Macs, string? Kernel);

    // Every node with multiply-adds, by name, in graph order, at its median pass.
    private static Dictionary<string, Timed> Layers(Model folded, SplitBatchInference run, double[][] perPass)
    {
        var graph = folded.Graph;
        var layers = new Dictionary<string, Timed>(StringComparer.Ordinal);
        for (int i = 1; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            var shapes = graph.InputShapesOf(node);
            long macs = node.Op.Macs(shapes);
            if (macs == 0) continue;
            var passes = perPass[i];
            Array.Sort(passes);
            double ms = Latency.Quantile(passes, 0.5) * 1000 / Parallelism.Threads;
            layers[node.Name] = new Timed(node.Op.Type, ms, NonzeroMacs(macs, folded.NodeParameters[i]), run.InferenceKernel(i));
        }
        return layers;
    }

    // A layer's multiply-adds scale with its weight's size, so its zero weights (a connection or magnitude mask) take
    // their share out of the count: what the layer would cost if its zeros cost nothing.
    private static long NonzeroMacs(long macs, Parameter[] parameters)
    {
        if (parameters.Length == 0) return macs;
        var w = parameters[0].Value.Span;
        return w.Length == 0 ? macs : (long)Math.Round((double)macs * (w.Length - w.Count(0f)) / w.Length);
    }
}
