using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// ShuffleNet's channel shuffle: the C channels, seen as a [groups, C/groups] grid, are transposed, so output
/// channel k*groups + g is input channel g*(C/groups) + k. The map couples the input channels k of every group
/// (they land side by side in the output): pruning removes them together, so the pruned op is again a shuffle
/// with the same groups.
/// </summary>
public sealed class ChannelShuffleOp : Op
{
    /// <summary>Creates a shuffle of <paramref name="groups"/> groups.</summary>
    public ChannelShuffleOp(int groups)
    {
        if (groups < 1) throw new LopperInputException($"op channel_shuffle: groups must be at least 1, got {groups}");
        Groups = groups;
    }

    /// <summary>Number of groups.</summary>
    public int Groups { get; }

    /// <inheritdoc/>
    public override string Type => "channel_shuffle";
    /// <inheritdoc/>
    public override bool BackwardReadsInputs => false;
    /// <inheritdoc/>
    public override bool BackwardReadsOutput => false;

    /// <summary>The input channel that output channel <paramref name="j"/> is, for <paramref name="channels"/> channels.</summary>
    public int SourceOf(int j, int channels) => j % Groups * (channels / Groups) + j / Groups;

    /// <inheritdoc/>
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs)
    {
        int c = inputs[0][1], per = c / Groups;
        var source = new int[c];
        for (int j = 0; j < c; j++) source[j] = SourceOf(j, c);
        var coupled = new int[per][];
        for (int k = 0; k < per; k++)
        {
            coupled[k] = new int[Groups];
            for (int g = 0; g < Groups; g++) coupled[k][g] = g * per + k;
        }
        return ChannelMap.Permutation(source, coupled);
    }

    /// <inheritdoc/>
    public override int[] OutputShape(IReadOnlyList<int[]> inputs)
    {
        var s = inputs[0];
        if (s.Length < 2) throw ShapeError($"expects [N,C,...], got {Tensor.Format(s)}");
        if (s[1] % Groups != 0) throw ShapeError($"{s[1]} channels do not split into {Groups} groups");
        return s;
    }

    // dst channel j <- src channel SourceOf(j) (forward), or the reverse (backward).
    private Tensor Permute(Tensor src, bool inverse)
    {
        var dst = Tensor.Pooled(src.Shape);
        int n = src.Shape[0], c = src.Shape[1], plane = src.Length / (n * c);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
            {
                int from = inverse ? j : SourceOf(j, c), to = inverse ? SourceOf(j, c) : j;
                src.Span.Slice((i * c + from) * plane, plane).CopyTo(dst.Span.Slice((i * c + to) * plane, plane));
            }
        return dst;
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        OutputShape([inputs[0].Shape]);
        return Permute(inputs[0], inverse: false);
    }

    /// <inheritdoc/>
    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
        => [state.NeedsInputGrad[0] ? Permute(gradOut, inverse: true) : null];

    /// <inheritdoc/>
    public override JsonObject Attributes() => new() { ["groups"] = Groups };

    /// <summary>Reads the op from model.json attributes.</summary>
    public static ChannelShuffleOp FromJson(JsonObject json)
    {
        var a = new OpAttributes(json, "channel_shuffle");
        var op = new ChannelShuffleOp(a.Int("groups", 1, OpAttributes.MaxSize));
        a.Done();
        return op;
    }
}
