using Lopper.Tensors;

namespace Lopper.Graph;

/// <summary>
/// Runs a model: forward over the nodes in order, and reverse-mode backward over the same nodes in
/// reverse, each op pushing its output gradient to its inputs and parameters. Activations and
/// gradients come from <see cref="BufferPool"/> and go back as soon as nothing needs them.
/// </summary>
public sealed class Executor
{
    private readonly Model _model;
    private readonly Tensor?[] _outputs;
    private readonly bool[] _owned;
    private readonly Tensor?[] _grads;
    private readonly NodeState[] _states;
    private readonly List<int>[] _consumers;
    private readonly int[] _pending;
    private readonly Tensor[][] _inputScratch;
    private readonly bool[] _neededByBackward;
    private readonly Tensor[][] _paramScratch;
    private readonly Tensor?[][] _gradScratch;
    private bool _keptForBackward;

    /// <summary>When set, every node's forward and backward time is added to it (see <see cref="OpTimings"/>).</summary>
    public OpTimings? Timings { get; set; }

    /// <summary>Called after each node's forward with the node and its output (e.g. to collect activations).</summary>
    public Action<Node, Tensor>? AfterForward { get; set; }

    /// <summary>Creates an executor for a model.</summary>
    /// <param name="model">The model to run.</param>
    /// <param name="derived">
    /// Given, a promise that the model's parameters do not change while this executor is in use (an inference
    /// session on a folded copy): ops then keep what they derive from their weights, such as packed convolution
    /// kernels, in these slots from one pass to the next, shared with every executor given the same slots.
    /// </param>
    public Executor(Model model, DerivedWeights? derived = null)
    {
        _model = model;
        int n = model.Graph.Nodes.Count;
        _outputs = new Tensor?[n];
        _owned = new bool[n];
        _grads = new Tensor?[n];
        _states = new NodeState[n];
        _consumers = model.Graph.Consumers();
        _pending = new int[n];
        _inputScratch = new Tensor[n][];
        _paramScratch = new Tensor[n][];
        _gradScratch = new Tensor?[n][];
        _neededByBackward = NeededByBackward(model.Graph, _consumers);
        for (int i = 0; i < n; i++)
        {
            var node = model.Graph.Nodes[i];
            _states[i] = new NodeState { NeedsInputGrad = new bool[node.InputIndices.Length], Shared = derived, Index = i };
            for (int j = 0; j < node.InputIndices.Length; j++) _states[i].NeedsInputGrad[j] = node.InputIndices[j] != 0;
            _inputScratch[i] = new Tensor[node.InputIndices.Length];
            _paramScratch[i] = new Tensor[model.NodeParameters[i].Length];
            _gradScratch[i] = new Tensor?[model.NodeParameters[i].Length];
        }
    }

    // An output must live until backward when its own op's backward reads it, when any reader's backward reads
    // its inputs, or when a reader is a reshape sharing its array. The model's output is always kept (the
    // caller reads it until EndStep).
    private static bool[] NeededByBackward(ModelGraph graph, List<int>[] consumers)
    {
        var nodes = graph.Nodes;
        var needed = new bool[nodes.Count];
        for (int j = 0; j < nodes.Count; j++)
        {
            bool keep = j == nodes.Count - 1 || nodes[j].Op.BackwardReadsOutput;
            foreach (int c in consumers[j])
                keep |= nodes[c].Op.BackwardReadsInputs || nodes[c].Op.OutputAliasesInput;
            needed[j] = keep;
        }
        return needed;
    }

    /// <summary>The model this executor runs.</summary>
    public Model Model => _model;

    /// <summary>
    /// Runs forward on a batch [N, C, H, W]. With <paramref name="training"/> batch-norm uses batch
    /// statistics and dropout is on; with <paramref name="forBackward"/> every activation is kept for
    /// <see cref="Backward"/>. The returned output stays valid until <see cref="EndStep"/>.
    /// </summary>
    public Tensor Forward(Tensor input, bool training, bool forBackward, Rng? random = null)
    {
        var nodes = _model.Graph.Nodes;
        _model.Graph.CheckBatchShape(input.Shape);
        EndStep();
        _keptForBackward = forBackward;
        _outputs[0] = input;
        _owned[0] = false;
        for (int i = 0; i < nodes.Count; i++) _pending[i] = _consumers[i].Count;
        for (int i = 1; i < nodes.Count; i++)
        {
            var node = nodes[i];
            var ins = _inputScratch[i];
            for (int j = 0; j < ins.Length; j++) ins[j] = _outputs[node.InputIndices[j]]!;
            var ps = _paramScratch[i];
            var nodeParams = _model.NodeParameters[i];
            for (int j = 0; j < ps.Length; j++) ps[j] = nodeParams[j].Value;
            var st = _states[i];
            st.Training = training;
            st.WillBackward = forBackward;
            st.Random = random;
            long t0 = Timings is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            var y = node.Op.Forward(ins, ps, st);
            Timings?.AddForward(i, System.Diagnostics.Stopwatch.GetTimestamp() - t0);
            _outputs[i] = y;
            _owned[i] = true;
            if (node.Op.OutputAliasesInput)
            {
                int src = node.InputIndices[0];
                // Hand the array over only when this node is the source's sole reader; otherwise the source's
                // other readers may still need it after this node's readers are done, so pin it until EndStep.
                bool sole = _consumers[src].Count == 1;
                _owned[i] = !forBackward && sole && _owned[src];
                if (!forBackward && sole) _owned[src] = false;
                else if (!forBackward) _pending[src]++;
            }
            AfterForward?.Invoke(node, y);
            if (!forBackward)
            {
                st.Clear();
                foreach (int j in node.InputIndices)
                    if (--_pending[j] == 0) ReleaseOutput(j);
            }
            else
                foreach (int j in node.InputIndices)
                    if (--_pending[j] == 0 && !_neededByBackward[j]) ReleaseForBackward(j);
        }
        return _outputs[^1]!;
    }

    /// <summary>
    /// Back-propagates <paramref name="gradOutput"/> (same shape as the output; the executor takes
    /// ownership of it) and writes every trainable parameter's gradient.
    /// </summary>
    public void Backward(Tensor gradOutput)
    {
        if (!_keptForBackward) throw new InvalidOperationException("Backward needs a Forward with forBackward: true");
        var nodes = _model.Graph.Nodes;
        _grads[^1] = gradOutput;
        for (int i = nodes.Count - 1; i >= 1; i--)
        {
            var node = nodes[i];
            var g = _grads[i];
            var nodeParams = _model.NodeParameters[i];
            if (g is null)
            {
                foreach (var p in nodeParams) p.Grad?.Span.Clear();
                continue;
            }
            var pg = _gradScratch[i];
            for (int j = 0; j < pg.Length; j++) pg[j] = nodeParams[j].Grad;
            long t0 = Timings is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            var inGrads = node.Op.Backward(g, _inputScratch[i], _outputs[i]!, _paramScratch[i], pg, _states[i]);
            Timings?.AddBackward(i, System.Diagnostics.Stopwatch.GetTimestamp() - t0);
            bool gradPassedOn = false;
            for (int j = 0; j < inGrads.Length; j++)
            {
                var ig = inGrads[j];
                if (ig is null) continue;
                int src = node.InputIndices[j];
                bool shares = ReferenceEquals(ig.Data, g.Data);
                var existing = _grads[src];
                if (existing is null)
                {
                    _grads[src] = ig;
                    gradPassedOn |= shares;
                }
                else
                {
                    float[] to = existing.Data, from = ig.Data;
                    Parallelism.ForSlices(existing.Length, (s, n) => TensorPrimitives.Add(to.AsSpan(s, n), from.AsSpan(s, n), to.AsSpan(s, n)));
                    if (!shares) ig.Release();
                }
            }
            if (!gradPassedOn) g.Release();
            _grads[i] = null;
            _states[i].Clear();
            ReleaseOutput(i);
        }
        _keptForBackward = false;
    }

    /// <summary>Returns every buffer of the last pass to the pool. Outputs of that pass become invalid.</summary>
    public void EndStep()
    {
        for (int i = 0; i < _outputs.Length; i++)
        {
            ReleaseOutput(i);
            _grads[i]?.Release();
            _grads[i] = null;
            _states[i].Clear();
        }
        _keptForBackward = false;
    }

    // Frees an output no backward reads, and clears its readers' references to it so that a wrong
    // BackwardReads* declaration fails loudly instead of reading a recycled array.
    private void ReleaseForBackward(int j)
    {
        if (j == 0 || !_owned[j]) return;
        ReleaseOutput(j);
        foreach (int c in _consumers[j])
        {
            var idx = _model.Graph.Nodes[c].InputIndices;
            for (int k = 0; k < idx.Length; k++)
                if (idx[k] == j) _inputScratch[c][k] = null!;
        }
    }

    private void ReleaseOutput(int i)
    {
        if (_owned[i]) _outputs[i]?.Release();
        _owned[i] = false;
        _outputs[i] = null;
    }
}
