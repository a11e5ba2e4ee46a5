using System.Text.Json.Nodes;
using Lopper.Tensors;

namespace Lopper.Graph;

/// <summary>
/// One operation type: shape rule, parameters, cost, channel map, forward and backward.
/// Shapes include the batch dimension. An op instance holds only its attributes; everything a
/// particular execution needs to remember for backward goes into the <see cref="NodeState"/>.
/// </summary>
public abstract class Op
{
    /// <summary>Registry name, e.g. "conv2d".</summary>
    public abstract string Type { get; }

    /// <summary>
    /// How input <paramref name="input"/>'s channels map onto the output's, at the given input shapes (batch
    /// included). Pruning builds its dependency groups from these maps alone.
    /// </summary>
    public abstract ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs);

    /// <summary>Number of inputs the op takes (-1: any number of at least 2).</summary>
    public virtual int Arity => 1;

    /// <summary>True when the op's parameters index its input channels in a way pruning cannot re-slice (the input's group is then locked).</summary>
    public virtual bool LocksInputChannels => false;

    /// <summary>
    /// Whether <see cref="Backward"/> reads the contents of its inputs. When false (and no other reader needs
    /// them), a training forward pass frees them as soon as their forward readers are done, which is what keeps
    /// batch-norm and residual-add outputs out of the memory held for backward.
    /// </summary>
    public virtual bool BackwardReadsInputs => true;

    /// <summary>Whether <see cref="Backward"/> reads the contents of this op's own output (see <see cref="BackwardReadsInputs"/>).</summary>
    public virtual bool BackwardReadsOutput => true;

    /// <summary>True when the forward output shares its array with input 0 (a reshape): the executor must not release it twice.</summary>
    public virtual bool OutputAliasesInput => false;

    /// <summary>Output shape for the given input shapes; throws <see cref="LopperInputException"/> on a mismatch.</summary>
    public abstract int[] OutputShape(IReadOnlyList<int[]> inputs);

    /// <summary>Parameters this op owns, for the given input shapes.</summary>
    public virtual IReadOnlyList<ParamSpec> Parameters(IReadOnlyList<int[]> inputs) => [];

    /// <summary>Multiply-accumulates of one forward pass at the given input shapes.</summary>
    public virtual long Macs(IReadOnlyList<int[]> inputs) => 0;

    /// <summary>
    /// What the op's inference on frozen weights runs on for inputs of these shapes, read from the data it derived in
    /// that session (<see cref="NodeState.Derived"/>): a short phrase for profiles (`lopper bench --profile`), or null
    /// where the op has one kernel only.
    /// </summary>
    public virtual string? InferenceKernel(object? derived, IReadOnlyList<int[]> inputs) => null;

    /// <summary>Computes the output. <paramref name="state"/> is where to keep what backward needs.</summary>
    public abstract Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state);

    /// <summary>
    /// Gradients for the inputs (entry i null when <c>state.NeedsInputGrad[i]</c> is false) and, written
    /// (not added) into <paramref name="paramGrads"/>, for the parameters (null entries: no gradient wanted).
    /// An op may return <paramref name="gradOut"/> itself (or a reshape sharing its array) as one input gradient.
    /// </summary>
    public abstract Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state);

    /// <summary>
    /// The same op for a pruned graph: <paramref name="inChannels"/>[i] is the new channel count (dimension 1)
    /// of input i, <paramref name="outChannels"/> the new channel count of the output. Ops without channel
    /// attributes return themselves.
    /// </summary>
    public virtual Op Resized(int[] inChannels, int outChannels) => this;

    /// <summary>Attributes for model.json.</summary>
    public abstract JsonObject Attributes();

    /// <summary>Fails with a message naming this op when a shape rule is broken.</summary>
    protected LopperInputException ShapeError(string what) => new($"op {Type}: {what}");
}
