using Lopper.Graph;
using Lopper.Tensors;

namespace Lopper.Optim;

/// <summary>Which trainable tensors <see cref="Grda"/> soft-thresholds.</summary>
public enum GrdaCoverage
{
    /// <summary>Every trainable tensor, biases and batch-norm scale/shift included (the official runs).</summary>
    All,
    /// <summary>Only tensors of rank 2 or more (convolution and linear weights); the rest get plain SGD.</summary>
    Weights,
}

/// <summary>How <see cref="Grda"/> groups the values it soft-thresholds.</summary>
public enum GrdaStructure
{
    /// <summary>Each value on its own (the paper's gRDA): zeros land anywhere, so few filters vanish whole.</summary>
    None,
    /// <summary>
    /// Each prunable channel's writing values together (its filters in every producer, their biases, its batch-norm
    /// scale and shift): the group soft-threshold a·max(0, 1 − T·√n / ‖a‖), the proximal step of a group lasso, so a
    /// channel reaches zero whole and compacts away. Values outside every channel group stay elementwise.
    /// </summary>
    Channels,
}

/// <summary>
/// Generalized regularized dual averaging (Chao et al., "Directional Pruning of Deep Neural Networks",
/// NeurIPS 2020), as the official PyTorch code does it. Per covered tensor an accumulator starts at
/// the weights of the first step and collects a ← a − lr·grad; a scalar threshold grows by
/// c·lr^(μ+½)·(n^μ − (n−1)^μ) at step n with the lr of that step; the weights become the
/// soft-threshold sign(a)·max(|a| − T, 0). No momentum, no weight decay; zeros are exact and can revive.
/// Tensors outside <see cref="Coverage"/> get plain SGD without momentum.
/// </summary>
/// <remarks>
/// State tensors: "accumulator/NAME" per covered tensor, and "grda/threshold" and "grda/step",
/// which hold the double threshold and the int64 step count as four 16-bit chunks each (least
/// significant first, stored as exact small floats) so a resume continues bit-identically; with a MACs target,
/// "grda/removed" (one 0/1 per steered channel, see <see cref="MacsSteering"/>).
/// </remarks>
public sealed class Grda : Optimizer
{
    private readonly Dictionary<string, Tensor> _state = new();

    /// <summary>Creates the optimizer.</summary>
    /// <param name="c">Threshold scale (≥ 0; 0 gives plain SGD without momentum).</param>
    /// <param name="mu">Threshold growth exponent (the paper uses 0.5 &lt; μ &lt; 1; larger is sparser).</param>
    /// <param name="coverage">Tensors that are soft-thresholded.</param>
    public Grda(double c, double mu, GrdaCoverage coverage = GrdaCoverage.All)
    {
        if (!(c >= 0) || !double.IsFinite(c)) throw new LopperInputException($"gRDA c must be a finite number >= 0, got {c}");
        if (!(mu > 0) || !double.IsFinite(mu)) throw new LopperInputException($"gRDA mu must be a finite number > 0, got {mu}");
        C = c;
        Mu = mu;
        Coverage = coverage;
    }

    /// <summary>Threshold scale c.</summary>
    public double C { get; }
    /// <summary>Threshold growth exponent μ.</summary>
    public double Mu { get; }
    /// <summary>Tensors that are soft-thresholded.</summary>
    public GrdaCoverage Coverage { get; }

    /// <summary>Current threshold T (never decreases).</summary>
    public double Threshold { get; private set; }

    /// <inheritdoc/>
    public override string Name => "grda";

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Tensor> State
    {
        get
        {
            _state[ThresholdKey] = Encode(BitConverter.DoubleToInt64Bits(Threshold));
            _state[StepKey] = Encode(Steps);
            if (_steer is not null) _state[RemovedKey] = _steer.State();
            return _state;
        }
    }

    private List<(int Id, int Channels, (Parameter Parameter, Structure.GroupSlice Slice)[] Writers)>? _groups;
    private MacsSteering? _steer;

    /// <summary>
    /// Thresholds each prunable channel of <paramref name="model"/> as one group (<see cref="GrdaStructure.Channels"/>);
    /// the groups come from the graph alone, so a resumed run forms the same ones. With <paramref name="targetMacs"/>
    /// the weakest channels are removed during training (see <see cref="MacsSteering"/>) so that the channels still alive
    /// cost that share of the model's MACs from 70% of <paramref name="totalSteps"/> on.
    /// </summary>
    public void UseChannelGroups(Model model, double? targetMacs = null, long totalSteps = 0)
    {
        if (_paramsSteer is not null) throw new LopperInputException("gRDA: channel groups cannot be combined with a parameters target, which thresholds values one by one");
        _groups = [];
        var analysis = Structure.ChannelGroups.Analyze(model.Graph);
        foreach (var g in analysis.Prunable)
        {
            var writers = g.Slices.Where(s => !s.Consumes).Select(s => (Parameter: model.Find(s.Parameter)!, Slice: s)).Where(w => Covers(w.Parameter)).ToArray();
            if (writers.Length > 0) _groups.Add((g.Id, g.Channels, writers));
        }
        if (targetMacs is double target)
        {
            if (!(target > 0 && target <= 1)) throw new LopperInputException($"gRDA target MACs must be in (0, 1], got {target}");
            _steer = new MacsSteering(model.Graph, analysis, _groups.Select(g => g.Id).ToArray(), target, Math.Max(1, totalSteps));
        }
    }

    private ParamsSteering? _paramsSteer;

    /// <summary>
    /// Steers the elementwise threshold so that <paramref name="target"/> of <paramref name="model"/>'s trainable
    /// values are nonzero from 70% of <paramref name="totalSteps"/> on and exactly at the last step (see
    /// <see cref="ParamsSteering"/>): the threshold is then the steering's, and c and μ are not used.
    /// </summary>
    public void UseParamsTarget(Model model, double target, long totalSteps)
    {
        if (!(target > 0 && target <= 1)) throw new LopperInputException($"gRDA target parameters must be in (0, 1], got {target}");
        if (_groups is not null) throw new LopperInputException("gRDA: a parameters target thresholds values one by one; it cannot be combined with channel groups");
        long total = 0, uncovered = 0;
        foreach (var p in model.Parameters)
        {
            if (!p.Trainable) continue;
            total += p.Value.Length;
            if (!Covers(p)) uncovered += p.Value.Length;
        }
        _paramsSteer = new ParamsSteering(target, Math.Max(1, totalSteps), total, uncovered);
    }

    /// <summary>The share of the trainable values the parameters target's schedule keeps now (null without one).</summary>
    public double? SteeredParamsGoal => _paramsSteer?.Goal(Steps);

    /// <summary>Share of the MACs the live channels cost at the last steering check (null without a MACs target).</summary>
    public double? SteeredMacsKept => _steer?.LastKept;

    /// <summary>True when the optimizer soft-thresholds <paramref name="p"/>.</summary>
    public bool Covers(Parameter p) => p.Trainable && (Coverage == GrdaCoverage.All || p.Spec.Shape.Length >= 2);

    /// <summary>
    /// Threshold after one more step at learning rate <paramref name="lr"/>, starting from
    /// <paramref name="threshold"/> after <paramref name="step"/> − 1 steps (step is 1-based).
    /// </summary>
    public static double NextThreshold(double threshold, long step, double lr, double c, double mu) =>
        threshold + c * Math.Pow(lr, mu + 0.5) * (Math.Pow(step, mu) - Math.Pow(step - 1, mu));

    /// <inheritdoc/>
    public override void Step(IReadOnlyList<Parameter> parameters, float lr)
    {
        // One scalar counter and threshold serve all tensors: the trainer hands every trainable tensor a
        // gradient at every step, so the official per-tensor counters would all be equal.
        Steps++;
        // Every accumulator moves first, so that a parameters target's check sets the threshold from this step's.
        _covered.Clear();
        foreach (var p in parameters)
        {
            if (p.Grad is not { } grad) continue;
            if (!Covers(p))
            {
                TensorPrimitives.MultiplyAdd(grad.Span, -lr, p.Value.Span, p.Value.Span);
                continue;
            }
            var acc = Accumulator(p);
            TensorPrimitives.MultiplyAdd(grad.Span, -lr, acc.Span, acc.Span);
            _covered.Add((p, acc));
        }
        if (_paramsSteer is null) Threshold = NextThreshold(Threshold, Steps, lr, C, Mu);
        else if (_paramsSteer.Due(Steps))
        {
            _coveredAccumulators.Clear();
            foreach (var (_, acc) in _covered) _coveredAccumulators.Add(acc);
            Threshold = _paramsSteer.Threshold(Steps, _coveredAccumulators);
        }
        float t = (float)Threshold;
        foreach (var (p, acc) in _covered)
        {
            // a − clamp(a, −T, T) is the soft-threshold with the same single rounding as |a| − T, and
            // exactly 0 where |a| ≤ T.
            var w = p.Value.Span;
            TensorPrimitives.Clamp(acc.Span, -t, t, w);
            TensorPrimitives.Subtract(acc.Span, w, w);
        }
        if (_groups is not null) GroupThreshold(t);
    }

    // This step's covered tensors with their accumulators (reused from step to step).
    private readonly List<(Parameter Parameter, Tensor Accumulator)> _covered = [];
    private readonly List<Tensor> _coveredAccumulators = [];

    // p's accumulator: the weights of its first step, then checked against p's shape (a resumed state).
    private Tensor Accumulator(Parameter p)
    {
        string key = AccumulatorPrefix + p.Name;
        if (!_state.TryGetValue(key, out var acc))
            _state[key] = acc = p.Value.Clone();
        else if (!acc.Shape.AsSpan().SequenceEqual(p.Spec.Shape))
            throw new LopperInputException($"optimizer state: '{key}' has shape {Tensor.Format(acc.Shape)}, expected {Tensor.Format(p.Spec.Shape)}");
        return acc;
    }

    // The group soft-threshold over each channel's writing slices, overwriting the elementwise result there; with a
    // MACs target the steering replaces it (see SteerChannels).
    private void GroupThreshold(float t)
    {
        if (_steer is not null)
        {
            SteerChannels();
            return;
        }
        ComputeNorms();
        var groups = _groups!;
        for (int gi = 0; gi < groups.Count; gi++)
        {
            var (_, channels, writers) = groups[gi];
            var accs = _accs![gi];
            double scale = t * _rootN![gi];
            for (int c = 0; c < channels; c++)
            {
                double norm = _norms![gi][c];
                float factor = norm == 0 ? 0f : (float)Math.Max(0, 1 - scale / norm);
                for (int i = 0; i < writers.Length; i++) Structure.AxisSlicing.ScaledCopy(accs[i], writers[i].Parameter.Value, writers[i].Slice, c, factor);
            }
        }
    }

    // With a MACs target a removed channel stays at zero and a live one keeps the elementwise result: the group
    // soft-threshold left the batch-norm running statistics further from the batch statistics (see MacsSteering's
    // remarks), so steering, not the group threshold, decides which channels go. Norms are needed only at its checks.
    private void SteerChannels()
    {
        var steer = _steer!;
        if (steer.Due(Steps))
        {
            ComputeNorms();
            steer.Update(Steps, _norms!);
        }
        var groups = _groups!;
        for (int gi = 0; gi < groups.Count; gi++)
        {
            var removed = steer.RemovedIn(gi);
            if (removed.Count == 0) continue;
            foreach (var (parameter, slice) in groups[gi].Writers) Structure.AxisSlicing.Zero(parameter.Value, slice, removed);
        }
    }

    // Each group's channel norms over all its writing accumulators, and √n of its channel blocks.
    private void ComputeNorms()
    {
        var groups = _groups!;
        if (_norms is null)
        {
            _norms = groups.Select(g => new double[g.Channels]).ToArray();
            _rootN = new double[groups.Count];
            _accs = groups.Select(g => new Tensor[g.Writers.Length]).ToArray();
        }
        for (int gi = 0; gi < groups.Count; gi++)
        {
            var (_, channels, writers) = groups[gi];
            // Looked up once per group and step, not per channel: the keys are built strings.
            var accs = _accs![gi];
            long n = 0;
            for (int i = 0; i < writers.Length; i++)
            {
                accs[i] = _state[AccumulatorPrefix + writers[i].Parameter.Name];
                n += Structure.AxisSlicing.SliceLength(accs[i], writers[i].Slice);
            }
            _rootN![gi] = Math.Sqrt(n);
            for (int c = 0; c < channels; c++)
            {
                double sumSq = 0;
                for (int i = 0; i < writers.Length; i++) sumSq += Structure.AxisSlicing.SumOfSquares(accs[i], writers[i].Slice, c);
                _norms[gi][c] = Math.Sqrt(sumSq);
            }
        }
    }

    private double[][]? _norms;
    private double[]? _rootN;
    private Tensor[][]? _accs;

    /// <inheritdoc/>
    public override IEnumerable<string> StateKeys(Parameter p) => Covers(p) ? [AccumulatorPrefix + p.Name] : [];

    /// <inheritdoc/>
    protected override int[]? GlobalShape(string key) => key is ThresholdKey or StepKey ? [4] : key == RemovedKey && _steer is not null ? [_steer.Channels] : null;

    /// <inheritdoc/>
    public override void LoadState(IReadOnlyDictionary<string, Tensor> state, long steps)
    {
        _state.Clear();
        Threshold = 0;
        bool haveThreshold = false, haveRemoved = false;
        foreach (var (k, t) in state)
        {
            if (k == ThresholdKey)
            {
                Threshold = BitConverter.Int64BitsToDouble(Decode(t, k));
                haveThreshold = true;
            }
            else if (k == RemovedKey && _steer is not null)
            {
                _steer.Load(t, k);
                haveRemoved = true;
            }
            else if (k == StepKey)
            {
                long saved = Decode(t, k);
                if (saved != steps) throw new LopperInputException($"optimizer state: gRDA step {saved} does not match the checkpoint's {steps} optimizer steps");
            }
            else if (k.StartsWith(AccumulatorPrefix, StringComparison.Ordinal))
            {
                _state[k] = t.Clone();
            }
            else
            {
                throw new LopperInputException($"optimizer state: unexpected entry '{k}' for grda");
            }
        }
        // Without the threshold the run would restart thresholding from 0 and re-anchor on sparse weights.
        if (steps > 0 && !haveThreshold) throw new LopperInputException($"optimizer state: missing '{ThresholdKey}' (checkpoint not written by grda?)");
        if (!double.IsFinite(Threshold) || Threshold < 0) throw new LopperInputException($"optimizer state: gRDA threshold {Threshold} is invalid");
        if (_steer is not null && steps > 0 && !haveRemoved) throw new LopperInputException($"optimizer state: missing '{RemovedKey}' (the run has a MACs target; checkpoint written without one?)");
        Steps = steps;
    }

    /// <summary>State key prefix of the accumulators.</summary>
    public const string AccumulatorPrefix = "accumulator/";
    private const string ThresholdKey = "grda/threshold";
    private const string StepKey = "grda/step";
    private const string RemovedKey = "grda/removed";

    private static Tensor Encode(long bits)
    {
        var t = new Tensor(4);
        for (int i = 0; i < 4; i++) t.Data[i] = (bits >> (16 * i)) & 0xFFFF;
        return t;
    }

    private static long Decode(Tensor t, string key)
    {
        if (t.Length != 4) throw new LopperInputException($"optimizer state: '{key}' must have 4 elements, has {t.Length}");
        long bits = 0;
        for (int i = 0; i < 4; i++)
        {
            float v = t.Data[i];
            if (!(v >= 0 && v <= 0xFFFF) || v != MathF.Floor(v)) throw new LopperInputException($"optimizer state: '{key}' is corrupt");
            bits |= (long)v << (16 * i);
        }
        return bits;
    }
}
