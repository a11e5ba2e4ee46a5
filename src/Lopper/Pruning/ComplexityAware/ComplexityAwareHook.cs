using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Optim;
using Lopper.Tensors;
using Lopper.Training;

namespace Lopper.Pruning.ComplexityAware;

/// <summary>
/// Complexity-aware training inside the standard loop (spec section 7): before each step it draws the
/// Bernoulli samples of every gate (per example, shared by a gate's nodes); after backward it moves every
/// gate probability by projected SGD on data-gradient estimate + complexity price, theta = clip(theta -
/// eta_theta (g + rho), 0, 1), with rho = strength * m_s * (alpha dE[MACs]/dtheta / MACs_0 + (1 - alpha)
/// dE[params]/dtheta / params_0); every <see cref="ComplexityAwareOptions.CheckEvery"/> steps it deletes the
/// structures that pass the practical test of spec 5.2 and swaps the smaller model into the trainer, so
/// training gets cheaper as it goes. At the end of the last epoch every gate is rounded and folded away
/// (<see cref="GateRemoval.Finish(Model, float)"/>), so the trainer saves an ordinary compact network.
/// </summary>
public sealed class ComplexityAwareHook : ITrainingHook
{
    private readonly Trainer _trainer;
    private readonly LrSchedule _schedule;
    private readonly int _batches;
    private readonly ulong _seed;
    private readonly Action<string> _log;
    private Model? _attached;
    private GateSet _gates = null!;
    private ExpectedCost _cost = null!;
    private float[] _grad = [];
    private int _removedUnits;
    private readonly List<string> _removedBlocks = new();

    /// <summary>The settings.</summary>
    public ComplexityAwareOptions Options { get; }
    /// <summary>Trainable parameters of the dense starting network (params_0).</summary>
    public long DenseParams { get; }
    /// <summary>MACs of the dense starting network (MACs_0).</summary>
    public long DenseMacs { get; }
    /// <summary>Every deletion made during training: step, blocks, units, MACs after.</summary>
    public JsonArray Removals { get; } = new();
    /// <summary>True once the gates have been folded away (settable for a run resumed after that point).</summary>
    public bool Finished { get; internal set; }
    /// <summary>Gates still strictly between 0 and 1 when training ended (below 0.5 deleted, the rest folded in as a scale).</summary>
    public int Rounded { get; private set; }

    /// <summary>Creates the hook for <paramref name="trainer"/>, whose model must already carry gates.</summary>
    public ComplexityAwareHook(Trainer trainer, ComplexityAwareOptions options, long denseParams, long denseMacs, int batchesPerEpoch, Action<string>? log = null)
    {
        _trainer = trainer;
        Options = options.Validate();
        DenseParams = Math.Max(1, denseParams);
        DenseMacs = Math.Max(1, denseMacs);
        _batches = Math.Max(1, batchesPerEpoch);
        _schedule = trainer.Config.CreateSchedule();
        _seed = trainer.Config.Seed ^ 0x6761746573UL;
        _log = log ?? (_ => { });
    }

    private void Attach(Model model)
    {
        if (ReferenceEquals(model, _attached)) return;
        _attached = model;
        _gates = GateSet.Of(model);
        _cost = new ExpectedCost(_gates);
        _grad = new float[_gates.Gates.Count == 0 ? 0 : _gates.Gates.Max(g => g.Size)];
    }

    /// <summary>Stable 64-bit hash of a gate key (string.GetHashCode is randomised per process).</summary>
    private static ulong KeyHash(string key)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in key) { h ^= c; h *= 1099511628211UL; }
        return h;
    }

    /// <inheritdoc/>
    public void BeforeStep(Model model, int epoch, int step)
    {
        if (Finished) return;
        Attach(model);
        foreach (var g in _gates.Gates)
        {
            var theta = _gates.Read(g, GateOp.ThetaIndex);
            var mask = _gates.Read(g, GateOp.MaskIndex);
            int rows = mask.Length / g.Size;
            bool allOn = true;
            foreach (var t in theta) if (t < 1f) { allOn = false; break; }
            if (allOn) mask.Fill(1f);
            else
            {
                // One stream per gate and step: samples do not depend on how many other gates are stochastic.
                var rng = Rng.Derive(_seed, (ulong)step + 1, KeyHash(g.Key));
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < g.Size; j++)
                    {
                        float t = theta[j];
                        mask[r * g.Size + j] = t >= 1f ? 1f : t <= 0f ? 0f : rng.NextFloat() < t ? 1f : 0f;
                    }
            }
            _gates.Sync(g, GateOp.MaskIndex);
        }
    }

    /// <summary>The complexity price rho of one gate of each logical gate at the current probabilities.</summary>
    public double[] Prices(int step = 0)
    {
        var sums = _cost.Sums();
        var (dp, dm) = _cost.Gradient(sums);
        var rho = new double[sums.Length];
        double a = Options.FlopsVsParams;
        double strength = StrengthAt(step, sums);
        for (int k = 0; k < rho.Length; k++)
            rho[k] = strength * Options.Multiplier(_gates.Gates[k].IsBlock) * (a * dm[k] / DenseMacs + (1 - a) * dp[k] / DenseParams);
        return rho;
    }

    /// <summary>The strength used at this step (the last one computed is recorded per epoch).</summary>
    public double CurrentStrength { get; private set; }

    /// <summary>
    /// The price multiplier at <paramref name="step"/>: the fixed strength, or with a target the strength scaled by
    /// exp(8 · gap), where gap is how far the expected kept fraction sits above the path from 1 (after warm-up) to the
    /// target (at 80% of the gating steps), in units of the distance to the target. A function of the gates and the
    /// step alone, so a resumed run prices exactly as the uninterrupted one.
    /// </summary>
    private double StrengthAt(int step, double[] sums)
    {
        if ((Options.TargetMacs ?? Options.TargetParams) is not double target) return CurrentStrength = Options.Strength;
        var (ep, em) = _cost.Expected(sums);
        double kept = Options.TargetMacs is not null ? em / DenseMacs : ep / DenseParams;
        double warm = Options.WarmupEpochs * _batches, end = Options.FoldAfter(_trainer.Config.Epochs) * (double)_batches;
        double progress = Math.Clamp((step - warm) / Math.Max(1, 0.8 * (end - warm)), 0, 1);
        double path = 1 - (1 - target) * progress;
        double gap = (kept - path) / Math.Max(1e-6, 1 - target);
        return CurrentStrength = Options.Strength * Math.Exp(Math.Clamp(8 * gap, -30, 30));
    }

    /// <inheritdoc/>
    public void AfterBackward(Model model, int epoch, int step)
    {
        if (Finished) return;
        Attach(model);
        // Warm-up: the weights learn first; early random weights make every structure look useless (spec 5.2).
        if ((double)step / _batches < Options.WarmupEpochs) return;
        var rho = Prices(step);
        int b = step - epoch * _batches;
        float eta = (float)(Options.GateLr * _schedule.At(epoch + (double)b / _batches));
        float decay = (float)Options.GradMeanDecay;
        for (int k = 0; k < _gates.Gates.Count; k++)
        {
            var g = _gates.Gates[k];
            var grad = _grad.AsSpan(0, g.Size);
            _gates.GradientSum(g, grad);
            var theta = _gates.Read(g, GateOp.ThetaIndex);
            var mean = _gates.Read(g, GateOp.GradMeanIndex);
            float price = (float)rho[k];
            for (int j = 0; j < g.Size; j++)
            {
                float total = grad[j] + price;
                theta[j] = Math.Clamp(theta[j] - eta * total, 0f, 1f);
                mean[j] = decay * mean[j] + (1 - decay) * total;
            }
            _gates.Sync(g, GateOp.ThetaIndex);
            _gates.Sync(g, GateOp.GradMeanIndex);
        }
    }

    /// <inheritdoc/>
    public void AfterStep(Model model, int epoch, int step)
    {
        if (Finished || (step + 1) % Options.CheckEvery != 0) return;
        Attach(model);
        bool warm = (step + 1.0) / _batches >= Options.WarmupEpochs;
        var units = new Dictionary<string, int[]>(StringComparer.Ordinal);
        var blocks = new List<string>();
        foreach (var g in _gates.Gates)
        {
            var theta = _gates.Read(g, GateOp.ThetaIndex);
            var zeros = _gates.Read(g, GateOp.ZeroChecksIndex);
            var mean = _gates.Read(g, GateOp.GradMeanIndex);
            List<int>? due = null;
            for (int j = 0; j < g.Size; j++)
            {
                zeros[j] = theta[j] == 0f ? zeros[j] + 1 : 0f;
                // Spec 5.2: at 0 for K checks and still pushed down (inside the attraction region of (0, 0)).
                if (warm && zeros[j] >= Options.ZeroChecks && mean[j] > 0) (due ??= new()).Add(j);
            }
            _gates.Sync(g, GateOp.ZeroChecksIndex);
            if (due is null) continue;
            if (g.IsBlock) blocks.Add(g.Key);
            else units[g.Key] = due.ToArray();
        }
        if (units.Count == 0 && blocks.Count == 0) return;
        var r = GateRemoval.Remove(model, units, blocks, escalate: true);
        if (r.Units == 0 && r.Blocks.Count == 0) return;
        Apply(r, step);
    }

    private void Apply(RemovalResult r, int step)
    {
        _removedUnits += r.Units;
        _removedBlocks.AddRange(r.Blocks);
        var (_, macs) = ExpectedCost.Actual(r.Model.Graph);
        Removals.Add(new JsonObject
        {
            ["step"] = step + 1,
            ["units"] = r.Units,
            ["blocks"] = new JsonArray(r.Blocks.Select(b => (JsonNode)b).ToArray()),
            ["macs_after"] = macs,
        });
        _log($"gates: step {step + 1}: removed {r.Units} unit(s)" + (r.Blocks.Count > 0 ? $" and block(s) {string.Join(", ", r.Blocks)}" : "") + $"; {macs / 1e6:F2}M MACs ({100.0 * macs / DenseMacs:F1}% of dense)");
        _trainer.ReplaceModel(r.Model, r.Slicing);
    }

    /// <inheritdoc/>
    public void EndEpoch(Model model, int epoch, JsonObject record)
    {
        if (!Finished)
        {
            Attach(model);
            Describe(record);
            if (epoch + 1 >= Options.FoldAfter(_trainer.Config.Epochs))
            {
                var (result, rounded) = Fold(model, record, epoch);
                Rounded = rounded;
                Finished = true;
                _removedUnits += result.Units;
                _removedBlocks.AddRange(result.Blocks);
                _trainer.ReplaceModel(result.Model, result.Slicing);
                model = result.Model;
                record["gates_fractional_at_end"] = rounded;
            }
        }
        var (p, m) = ExpectedCost.Actual(model.Graph);
        record["params"] = p;
        record["macs"] = m;
        record["params_kept"] = (double)p / DenseParams;
        record["macs_kept"] = (double)m / DenseMacs;
        record["removed_units"] = _removedUnits;
        record["removed_blocks"] = new JsonArray(_removedBlocks.Select(b => (JsonNode)b).ToArray());
    }

    /// <summary>
    /// Rounds the gates and folds them away: below 0.5 deleted (the spec's rounding), or with a target the
    /// <see cref="FoldSelection"/> under the budget and <see cref="ComplexityAwareOptions.BudgetTolerance"/>.
    /// </summary>
    private (RemovalResult Result, int Rounded) Fold(Model model, JsonObject record, int epoch)
    {
        if ((Options.TargetMacs ?? Options.TargetParams) is not double target)
        {
            var plain = GateRemoval.Finish(model);
            _log($"gates: folded away after epoch {epoch + 1} ({plain.Fractional} still fractional: below 0.5 deleted, the rest folded in as a scale; {plain.Result.Units} unit(s) and {plain.Result.Blocks.Count} block(s) deleted)");
            return plain;
        }
        bool macs = Options.TargetMacs is not null;
        long dense = macs ? DenseMacs : DenseParams;
        long Cost(Model m) { var (p, c) = ExpectedCost.Actual(m.Graph); return macs ? c : p; }
        var choice = FoldSelection.Choose(model, Cost, target * dense, Options.BudgetTolerance * dense);
        if (!choice.Reached) _log($"gates: even deleting every unsettled gate keeps more than the target {target:P1}");
        var (result, rounded) = GateRemoval.Finish(model, (key, j, _) => choice.Deleted.Contains((key, j)));
        if (choice.LastTheta >= 0.5f) record["fold_cutoff"] = choice.LastTheta;
        if (choice.KeptBlocks.Count > 0) record["fold_kept_blocks"] = new JsonArray(choice.KeptBlocks.Select(b => (JsonNode)b).ToArray());
        _log($"gates: folded away after epoch {epoch + 1} ({rounded} still fractional: up to theta {choice.LastTheta:G3} deleted lowest first, the rest folded in as a scale; "
             + $"{result.Units} unit(s) and {result.Blocks.Count} block(s) deleted"
             + (choice.KeptBlocks.Count > 0 ? $"; block(s) {string.Join(", ", choice.KeptBlocks)} kept: deleting them would leave more than {Options.BudgetTolerance:P0} under the target" : "")
             + $"; {100.0 * Cost(result.Model) / dense:F1}% of the dense {(macs ? "MACs" : "parameters")})");
        return (result, rounded);
    }

    private void Describe(JsonObject record)
    {
        int units = 0, unitsZero = 0, unitsOne = 0, blocks = 0, blocksOne = 0;
        var histogram = new int[10];
        foreach (var g in _gates.Gates)
        {
            foreach (var t in _gates.Read(g, GateOp.ThetaIndex))
            {
                if (g.IsBlock) { blocks++; if (t == 1f) blocksOne++; }
                else { units++; if (t == 0f) unitsZero++; else if (t == 1f) unitsOne++; }
                histogram[Math.Min(9, (int)(t * 10))]++;
            }
        }
        record["theta_histogram"] = new JsonArray(histogram.Select(c => (JsonNode)c).ToArray());
        var sums = _cost.Sums();
        var (ep, em) = _cost.Expected(sums);
        record["gate_units"] = units;
        record["gate_units_at_0"] = unitsZero;
        record["gate_units_at_1"] = unitsOne;
        record["gate_blocks"] = blocks;
        record["gate_blocks_at_1"] = blocksOne;
        record["expected_params_kept"] = ep / DenseParams;
        record["expected_macs_kept"] = em / DenseMacs;
        record["strength"] = CurrentStrength;
    }

    /// <summary>Summary for run.json: settings, dense counts, every deletion.</summary>
    public JsonObject Details()
    {
        var o = Options.ToJson();
        o["dense_params"] = DenseParams;
        o["dense_macs"] = DenseMacs;
        o["removed_units"] = _removedUnits;
        o["removed_blocks"] = new JsonArray(_removedBlocks.Select(b => (JsonNode)b).ToArray());
        o["fractional_at_end"] = Rounded;
        o["removals"] = Removals.DeepClone();
        return o;
    }
}
