using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Graph.Ops;

namespace Lopper.Training;

/// <summary>
/// Transfer learning on a trained model: replace its classifier for a new class count, and freeze the
/// layers up to a chosen node while the rest fine-tunes.
/// </summary>
public static class Transfer
{
    /// <summary>The classifier: the last linear node of the graph, which must produce the model's output.</summary>
    /// <exception cref="LopperInputException">The model has no linear layer producing its class scores.</exception>
    public static Node Head(ModelGraph graph)
    {
        for (int i = graph.Nodes.Count - 1; i > 0; i--)
        {
            if (graph.Nodes[i].Op is not LinearOp lin) continue;
            if (lin.OutFeatures != graph.Classes)
                throw new LopperInputException($"model {graph.Name}: its last linear layer '{graph.Nodes[i].Name}' has {lin.OutFeatures} outputs but the model gives {graph.Classes} scores, so it is not the classifier");
            return graph.Nodes[i];
        }
        throw new LopperInputException($"model {graph.Name} has no linear classifier to replace");
    }

    /// <summary>
    /// A copy of <paramref name="model"/> whose classifier has <paramref name="classes"/> outputs, freshly
    /// initialised from <paramref name="seed"/> (as a new model of that graph would be); every other parameter
    /// and running statistic is copied.
    /// </summary>
    /// <exception cref="LopperInputException"><paramref name="classes"/> is below 1, or the model has no classifier.</exception>
    public static Model ResetHead(Model model, int classes, ulong seed)
    {
        if (classes < 1) throw new LopperInputException($"a new classifier needs at least 1 class, got {classes}");
        var head = Head(model.Graph);
        var json = ModelJson.ToJson(model.Graph);
        foreach (var n in (JsonArray)json["nodes"]!)
            if ((string?)n!["name"] == head.Name) n["attrs"]!["out_features"] = classes;
        var graph = ModelJson.Parse(json.ToJsonString(), $"{model.Graph.Name} with a {classes}-class head");
        var fresh = new Model(graph, seed);
        foreach (var p in fresh.Parameters)
        {
            if (p.Owner.Name == head.Name) continue;
            var old = model.Find(p.Name) ?? throw new LopperRunException($"parameter {p.Name} vanished while resetting the head");
            old.Value.Span.CopyTo(p.Value.Span);
        }
        return fresh;
    }

    /// <summary>
    /// A filter for <see cref="Trainer.ExcludeFromOptimizer"/> that holds every parameter of the nodes up to and
    /// including <paramref name="nodeName"/> (graph order) fixed. Batch-norm running statistics of frozen layers
    /// still follow the data in training mode, as in PyTorch with requires_grad off.
    /// </summary>
    /// <exception cref="LopperInputException">No such node, or freezing it would leave nothing to train.</exception>
    public static Func<Parameter, bool> FreezeUntil(Model model, string nodeName)
    {
        var graph = model.Graph;
        int last = graph.IndexOf(nodeName);
        if (last < 0)
            throw LopperInputException.ForOptions<Runs.TrainRequest>($"FreezeUntil: model {graph.Name} has no node '{nodeName}' (nodes: {string.Join(", ", graph.Nodes.Skip(1).Take(12).Select(n => n.Name))}{(graph.Nodes.Count > 13 ? ", ..." : "")}; see lopper inspect)", "FreezeUntil");
        var frozen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i <= last; i++) frozen.Add(graph.Nodes[i].Name);
        if (model.Parameters.All(p => !p.Trainable || frozen.Contains(p.Owner.Name)))
            throw LopperInputException.ForOptions<Runs.TrainRequest>($"FreezeUntil {nodeName} freezes every trainable parameter; pick an earlier node", "FreezeUntil");
        return p => frozen.Contains(p.Owner.Name);
    }
}
