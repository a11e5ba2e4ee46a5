using Lopper.Graph.Ops;

namespace Lopper.Graph;

/// <summary>
/// The deployment form of a model: every batch-norm that directly follows a convolution (and is its only
/// reader) is folded into the convolution's weights and bias, and a ReLU (or a clip from 0, as ReLU6) that is the
/// batch-norm's only reader is fused into the convolution; a residual join (with its ReLU) whose input is such a convolution,
/// read by nothing else, becomes that convolution's epilogue (<see cref="Conv2dOp.AddsResidual"/>); a ReLU of
/// values another ReLU already made non-negative goes. Outputs equal the original model's in evaluation mode.
/// </summary>
public static class InferenceFolding
{
    /// <summary>A new, folded model; the input model is unchanged.</summary>
    public static Model Fold(Model model)
    {
        var g = model.Graph;
        var consumers = g.Consumers();
        var nodes = new List<Node>();
        var rename = new Dictionary<string, string>();
        var folded = new Dictionary<string, (int Conv, int Bn)>();
        var skip = new HashSet<int>();
        for (int i = 0; i < g.Nodes.Count; i++)
        {
            if (skip.Contains(i)) continue;
            var node = g.Nodes[i];
            string Resolve(string s) => rename.TryGetValue(s, out var t) ? t : s;
            if (node.Op is Conv2dOp conv && !conv.FusedRelu && consumers[i].Count == 1 && g.Nodes[consumers[i][0]].Op is BatchNorm2dOp)
            {
                int bn = consumers[i][0];
                // A ReLU, or a clip from 0 (ReLU6), as the batch-norm's only reader goes into the convolution.
                var reader = consumers[bn].Count == 1 ? g.Nodes[consumers[bn][0]].Op : null;
                float? reluMax = reader is ReluOp ? float.PositiveInfinity
                    : reader is ClipOp { Min: 0 } clip && clip.Max > 0 ? (float)clip.Max : null;
                bool relu = reluMax is not null;
                int last = relu ? consumers[bn][0] : bn;
                var op = conv.With(true, conv.Columns, relu, false, reluMax ?? float.PositiveInfinity);
                nodes.Add(new Node(node.Name, op, node.Inputs.Select(Resolve).ToArray()));
                folded[node.Name] = (i, bn);
                rename[g.Nodes[bn].Name] = node.Name;
                if (relu) rename[g.Nodes[last].Name] = node.Name;
                skip.Add(bn);
                skip.Add(last);
                continue;
            }
            // A residual join followed by its only reader, a ReLU: the ReLU goes into the sum.
            if (node.Op is AddOp { FusedRelu: false } && consumers[i].Count == 1 && g.Nodes[consumers[i][0]].Op is ReluOp)
            {
                int r = consumers[i][0];
                nodes.Add(new Node(node.Name, new AddOp(relu: true), node.Inputs.Select(Resolve).ToArray()));
                rename[g.Nodes[r].Name] = node.Name;
                skip.Add(r);
                continue;
            }
            // A ReLU of values that are already non-negative (another ReLU's, or a fused one's) is the identity: SR-init
            // leaves one per removed residual block (the block's final ReLU on the identity path). Not the graph's
            // output node, which must stay last.
            if (node.Op is ReluOp && i < g.Nodes.Count - 1 && nodes.Find(n => n.Name == Resolve(node.Inputs[0])) is { } producer && NonNegative(producer.Op))
            {
                rename[node.Name] = producer.Name;
                continue;
            }
            nodes.Add(new Node(node.Name, node.Op, node.Inputs.Select(Resolve).ToArray()));
        }
        var result = new Model(new ModelGraph(g.Name, FuseResiduals(nodes)));
        foreach (var p in result.Parameters)
        {
            string nodeName = p.Owner.Name;
            if (!folded.TryGetValue(nodeName, out var f))
            {
                model.Find(p.Name)!.Value.Span.CopyTo(p.Value.Span);
                continue;
            }
            var bnOp = (BatchNorm2dOp)g.Nodes[f.Bn].Op;
            var bnParams = model.NodeParameters[f.Bn];
            var (gamma, beta, mean, var) = (bnParams[0].Value.Data, bnParams[1].Value.Data, bnParams[2].Value.Data, bnParams[3].Value.Data);
            var convParams = model.NodeParameters[f.Conv];
            int outC = gamma.Length;
            if (p.Spec.Name == "weight")
            {
                var w = convParams[0].Value.Data;
                int per = w.Length / outC;
                for (int o = 0; o < outC; o++)
                {
                    float scale = (float)(gamma[o] / Math.Sqrt(var[o] + bnOp.Eps));
                    for (int j = 0; j < per; j++) p.Value.Data[o * per + j] = w[o * per + j] * scale;
                }
            }
            else
            {
                var oldBias = convParams.Length > 1 ? convParams[1].Value.Data : null;
                for (int o = 0; o < outC; o++)
                {
                    double scale = gamma[o] / Math.Sqrt(var[o] + bnOp.Eps);
                    p.Value.Data[o] = (float)(beta[o] + ((oldBias?[o] ?? 0) - mean[o]) * scale);
                }
            }
        }
        return result;
    }

    private static bool NonNegative(Op op) => op is ReluOp or Conv2dOp { FusedRelu: true } or AddOp { FusedRelu: true };

    // Two-input sums with a convolution (bias, no ReLU of its own) as an input that nothing else reads: the sum
    // and its ReLU go into the convolution, which moves to the sum's place (both inputs exist by then). A 3x3
    // stride-1 convolution is preferred, as its tiles add the residual while storing; others add it in a pass.
    private static List<Node> FuseResiduals(List<Node> nodes)
    {
        var readers = new Dictionary<string, int>();
        foreach (var n in nodes)
            foreach (var i in n.Inputs) readers[i] = readers.GetValueOrDefault(i) + 1;
        var index = new Dictionary<string, int>();
        for (int i = 0; i < nodes.Count; i++) index[nodes[i].Name] = i;
        var moved = new HashSet<string>();
        var rename = new Dictionary<string, string>();
        var result = new List<Node>();
        var fusedAt = new Dictionary<int, Node>();
        for (int i = 0; i < nodes.Count; i++)
        {
            if (nodes[i].Op is not AddOp add || nodes[i].Inputs.Length != 2) continue;
            int best = -1;
            for (int j = 0; j < 2; j++)
            {
                string input = nodes[i].Inputs[j];
                if (!index.TryGetValue(input, out int c) || readers.GetValueOrDefault(input) != 1) continue;
                if (nodes[c].Op is not Conv2dOp { FusedRelu: false, AddsResidual: false, HasBias: true } conv) continue;
                if (best < 0 || (conv.KernelH * conv.KernelW > 1 && conv.Stride == 1)) best = j;
            }
            if (best < 0) continue;
            var convNode = nodes[index[nodes[i].Inputs[best]]];
            var cv = (Conv2dOp)convNode.Op;
            var op = cv.With(true, cv.Columns, add.FusedRelu, true);
            fusedAt[i] = new Node(convNode.Name, op, convNode.Inputs[0], nodes[i].Inputs[1 - best]);
            moved.Add(convNode.Name);
            rename[nodes[i].Name] = convNode.Name;
        }
        for (int i = 0; i < nodes.Count; i++)
        {
            if (moved.Contains(nodes[i].Name)) continue;
            var node = fusedAt.TryGetValue(i, out var fused) ? fused : nodes[i];
            result.Add(new Node(node.Name, node.Op, node.Inputs.Select(s => rename.TryGetValue(s, out var t) ? t : s).ToArray()));
        }
        return result;
    }
}
