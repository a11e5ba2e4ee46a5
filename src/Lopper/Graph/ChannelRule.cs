namespace Lopper.Graph;

/// <summary>
/// How an op relates the channels of its output to those of its inputs. Pruning builds its
/// dependency groups from this alone, so a new op only has to declare its rule.
/// </summary>
public enum ChannelRule
{
    /// <summary>The network input: its channels are never pruned.</summary>
    Input,
    /// <summary>The op starts a new channel space (conv, linear): weight axis 0 indexes output channels, axis 1 input channels.</summary>
    Produces,
    /// <summary>Output channel i is input channel i (batch-norm, ReLU, pooling, dropout, per-channel multiply).</summary>
    PassThrough,
    /// <summary>All inputs and the output share one channel space (elementwise add: residual coupling).</summary>
    Ties,
    /// <summary>Output feature f comes from input channel f / (H*W) (flatten before a linear layer).</summary>
    Flattens,
    /// <summary>No rule: the op's channel mapping is unknown, so pruning refuses any graph containing it.</summary>
    Opaque,
}
