using System.Globalization;
using System.Text;
using Lopper.Graph;
using Lopper.Tensors;
using Lopper.Training;

namespace Lopper.Pruning.Spp;

/// <summary>
/// The SPP pruning phase inside the standard training loop. Every iteration draws one Bernoulli keep-mask per
/// column (keep with probability 1 − p), zeroes the masked columns for the forward and backward pass, zeroes
/// their gradients, and after the optimizer step puts back their pre-step values, so a masked column takes no
/// update at all (momentum and weight decay included). Every <see cref="Interval"/> iterations the
/// probabilities of unfinished layers move by <see cref="SppMath.Increment"/> of the column's L1 rank.
/// </summary>
public sealed class SppHook : ITrainingHook
{
    private readonly SppOptions _options;
    private readonly Rng _rng;
    private readonly long _totalConvMacs;

    /// <summary>
    /// Creates the hook for the given layers; <paramref name="totalConvMacs"/> includes convolutions not pruned.
    /// <paramref name="interval"/> overrides <see cref="SppOptions.Interval"/> (one of them must be set).
    /// </summary>
    public SppHook(IReadOnlyList<SppLayer> layers, SppOptions options, ulong seed, long totalConvMacs, int? interval = null)
    {
        Layers = layers;
        _options = options;
        _rng = new Rng(seed);
        _totalConvMacs = totalConvMacs;
        Interval = interval ?? options.Interval ?? throw new ArgumentException("no update interval: set SppOptions.Interval or pass one", nameof(interval));
        if (Interval < 1) throw new ArgumentOutOfRangeException(nameof(interval), "the update interval must be at least 1");
    }

    /// <summary>Iterations between probability updates (t).</summary>
    public int Interval { get; }

    /// <summary>The pruned layers, in graph order.</summary>
    public IReadOnlyList<SppLayer> Layers { get; }

    /// <summary>Iterations seen (the first is 1).</summary>
    public int Iteration { get; private set; }

    /// <summary>Whether every layer has stopped.</summary>
    public bool AllFinished => Layers.All(l => l.Finished);

    /// <summary>Conv-MAC speedup from the removed column fractions alone (the spec's §6.1 with r_row = 0).</summary>
    public double ColumnSpeedup
    {
        get
        {
            long pruned = Layers.Sum(l => l.Macs);
            return SppMath.Speedup(Layers.Select(l => (l.Macs, l.Ratio)).Append((_totalConvMacs - pruned, 0.0)));
        }
    }

    /// <summary>
    /// Share of the whole model's MACs left once the removed columns are compacted away, filters whose outputs lost
    /// every reader included (<see cref="Structure.EffectiveCost"/>); costed again only after a column is removed.
    /// </summary>
    public double EffectiveMacsKept(Model model)
    {
        int dead = 0;
        foreach (var l in Layers) dead += l.DeadCount;
        if (dead != _deadAtCost || _effectiveKept is null)
        {
            _denseMacs ??= model.Graph.Macs();
            _effectiveKept = _denseMacs == 0 ? 1 : (double)Structure.EffectiveCost.Of(model).Macs / _denseMacs.Value;
            _deadAtCost = dead;
        }
        return _effectiveKept.Value;
    }

    private int _deadAtCost = -1;
    private double? _effectiveKept;
    private long? _denseMacs;

    /// <inheritdoc/>
    public void BeforeStep(Model model, int epoch, int step)
    {
        Iteration++;
        bool globalDone = _options.TargetSpeedup is double s ? ColumnSpeedup >= s
            : _options.TargetMacs is double m && EffectiveMacsKept(model) <= m;
        foreach (var l in Layers)
        {
            if (!l.Finished && (l.DeadCount >= l.TargetCount || globalDone)) Finish(model, l);
            if (!l.Finished)
            {
                if ((Iteration - 1) % Interval == 0) UpdateProbabilities(model, l);
                for (int j = 0; j < l.Columns; j++) l.Mask[j] = !l.Dead[j] && _rng.NextDouble() < 1 - l.P[j];
            }
            ApplyMask(model, l);
        }
    }

    /// <inheritdoc/>
    public void AfterBackward(Model model, int epoch, int step)
    {
        foreach (var l in Layers)
        {
            if (!l.AnyMasked || model.Find(l.Weight)!.Grad is not { } g) continue;
            ZeroColumns(g.Span, l, l.Mask);
        }
    }

    /// <inheritdoc/>
    public void AfterStep(Model model, int epoch, int step)
    {
        foreach (var l in Layers)
        {
            if (!l.AnyMasked) continue;
            var w = model.Find(l.Weight)!.Value.Span;
            int k = l.Columns;
            for (int j = 0; j < k; j++)
            {
                if (l.Mask[j]) continue;
                for (int i = 0; i < l.Filters; i++) w[i * k + j] = l.Dead[j] || !l.BackupValid ? 0f : l.Backup![i * k + j];
            }
        }
    }

    /// <summary>
    /// One probability update of a layer (spec §4.2): rank the surviving columns by L1 norm (ties: lower index
    /// first), add Δ(rank) with M = target − dead fixed for the pass, clip to [0, 1], and remove for good every
    /// column whose p reaches 1.
    /// </summary>
    public void UpdateProbabilities(Model model, SppLayer layer)
    {
        int remaining = layer.TargetCount - layer.DeadCount;
        if (remaining < 1) return;
        var w = model.Find(layer.Weight)!.Value.Span;
        var order = RankLive(w, layer);
        for (int r = 0; r < order.Count; r++)
        {
            int j = order[r];
            layer.P[j] = SppMath.Step(layer.P[j], SppMath.Increment(r, remaining, _options.A, _options.U));
            if (layer.P[j] >= 1.0) Kill(w, layer, j);
        }
    }

    /// <summary>
    /// Ends pruning of a layer short of its target by removing the surviving columns with the highest p (then the
    /// smallest L1 norm) until the target is met; used when the epoch budget runs out.
    /// </summary>
    public void ForceFinish(Model model, SppLayer layer)
    {
        if (layer.Finished) return;
        var w = model.Find(layer.Weight)!.Value.Span;
        var l1 = ColumnL1(w, layer);
        var order = Enumerable.Range(0, layer.Columns).Where(j => !layer.Dead[j])
            .OrderByDescending(j => layer.P[j]).ThenBy(j => l1[j]).ThenBy(j => j).ToList();
        for (int i = 0; layer.DeadCount < layer.TargetCount; i++)
        {
            Kill(w, layer, order[i]);
            layer.ForcedCount++;
        }
        layer.Forced = true;
        Finish(model, layer);
    }

    /// <summary>One line with every layer's removed fraction against its target.</summary>
    public string FormatProgress()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"SPP iteration {Iteration}: conv-MAC speedup {ColumnSpeedup:F2}x;");
        if (_options.TargetMacs is not null && _effectiveKept is double kept) sb.Append(inv, $" MACs kept after compaction {kept:P1};");
        foreach (var l in Layers)
            sb.Append(inv, $" {l.Node} {l.Ratio:P0}/{l.TargetRatio:P0}{(l.Finished ? "*" : "")}");
        return sb.ToString();
    }

    private void Finish(Model model, SppLayer layer)
    {
        var w = model.Find(layer.Weight)!.Value.Span;
        int k = layer.Columns;
        for (int j = 0; j < k; j++)
        {
            if (layer.Dead[j]) continue;
            if (_options.ScaleSurvivors && layer.P[j] > 0)
                for (int i = 0; i < layer.Filters; i++) w[i * k + j] *= (float)(1 - layer.P[j]);
            layer.P[j] = 0;
        }
        for (int j = 0; j < k; j++) layer.Mask[j] = !layer.Dead[j];
        layer.Finished = true;
        layer.FinishedAt = Iteration;
    }

    private static void Kill(Span<float> w, SppLayer layer, int j)
    {
        layer.P[j] = 1.0;
        layer.Dead[j] = true;
        layer.Mask[j] = false;
        layer.DeadCount++;
        for (int i = 0; i < layer.Filters; i++) w[i * layer.Columns + j] = 0f;
    }

    private static void ApplyMask(Model model, SppLayer l)
    {
        l.AnyMasked = Array.IndexOf(l.Mask, false) >= 0;
        if (!l.AnyMasked) return;
        var w = model.Find(l.Weight)!.Value.Span;
        bool temporary = false;
        for (int j = 0; j < l.Columns && !temporary; j++) temporary = !l.Mask[j] && !l.Dead[j];
        l.BackupValid = temporary;
        if (temporary)
        {
            l.Backup ??= new float[w.Length];
            w.CopyTo(l.Backup);
        }
        ZeroColumns(w, l, l.Mask);
    }

    private static void ZeroColumns(Span<float> t, SppLayer l, bool[] keep)
    {
        int k = l.Columns;
        for (int j = 0; j < k; j++)
            if (!keep[j])
                for (int i = 0; i < l.Filters; i++) t[i * k + j] = 0f;
    }

    private static double[] ColumnL1(ReadOnlySpan<float> w, SppLayer l)
    {
        var s = new double[l.Columns];
        for (int i = 0; i < l.Filters; i++)
            for (int j = 0; j < l.Columns; j++) s[j] += Math.Abs(w[i * l.Columns + j]);
        return s;
    }

    private static List<int> RankLive(ReadOnlySpan<float> w, SppLayer l)
    {
        var s = ColumnL1(w, l);
        var live = Enumerable.Range(0, l.Columns).Where(j => !l.Dead[j]).ToList();
        live.Sort((x, y) => s[x] != s[y] ? s[x].CompareTo(s[y]) : x.CompareTo(y));
        return live;
    }
}
