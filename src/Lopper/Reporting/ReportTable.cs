using System.Globalization;

namespace Lopper.Reporting;

/// <summary>The report's table of every cell as formatted text, shared by the Markdown and HTML writers.</summary>
public static class ReportTable
{
    /// <summary>Column headers.</summary>
    public static IReadOnlyList<string> Headers { get; } =
    [
        "cell", "method", "budget", "seed", "epochs", "status",
        "acc. before (%)", "acc. pruned (%)", "acc. fine-tuned (%)",
        "params after", "params kept (%)", "MACs after", "MACs kept (%)",
        "latency before (ms)", "latency after (ms)", "seconds per phase", "error",
    ];

    /// <summary>One row of text per cell, in the order of <see cref="Headers"/>.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Rows(ReportCells cells)
    {
        var rows = new List<IReadOnlyList<string>>();
        foreach (var rc in cells.All)
        {
            var c = rc.Cell;
            rows.Add(
            [
                rc.ShownId, c.Label == c.Method ? c.Method : $"{c.Label} ({c.Method})",
                c.BudgetFlag is null ? "-" : $"{c.BudgetFlag} {c.Budget}",
                c.Seed.ToString(CultureInfo.InvariantCulture), c.Epochs.ToString(CultureInfo.InvariantCulture), c.Status,
                Percent(c.AccuracyBefore), Percent(c.AccuracyPruned), Percent(c.AccuracyFinetuned),
                Count(c.ParamsAfter), Percent(c.ParamsKept), Count(c.MacsAfter), Percent(c.MacsKept),
                Ms(c.LatencyMsBefore), Ms(c.LatencyMsAfter),
                string.Join(", ", c.Seconds.Select(kv => $"{kv.Key} {kv.Value.ToString("F1", CultureInfo.InvariantCulture)}")),
                c.Error ?? "",
            ]);
        }
        return rows;
    }

    /// <summary>Column headers of the headline table (one row per finished cell; what the README shows).</summary>
    public static IReadOnlyList<string> HeadlineHeaders { get; } =
    [
        "method", "budget", "MACs kept (%)", "params kept (%)", "accuracy (%)", "vs dense (points)", "latency (ms)", "speed-up",
    ];

    /// <summary>
    /// One row per finished cell: the fine-tuned accuracy and its difference to the accuracy before pruning,
    /// what was kept, and the measured latency before and after (speed-up = before / after).
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> HeadlineRows(ReportCells cells)
    {
        var rows = new List<IReadOnlyList<string>>();
        foreach (var rc in cells.All)
        {
            var c = rc.Cell;
            if (!c.IsOk) continue;
            string delta = c.AccuracyFinetuned is double a && c.AccuracyBefore is double b
                ? ((a - b) * 100).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) : "-";
            string speedup = c.LatencyMsBefore is double lb && c.LatencyMsAfter is double la && la > 0
                ? (lb / la).ToString("F2", CultureInfo.InvariantCulture) + "x" : "-";
            rows.Add(
            [
                c.Label == c.Method ? c.Method : $"{c.Label} ({c.Method})", c.BudgetFlag is null ? "-" : $"{c.BudgetFlag} {c.Budget}",
                Percent(c.MacsKept), Percent(c.ParamsKept), Percent(c.AccuracyFinetuned), delta,
                $"{Ms(c.LatencyMsBefore)} → {Ms(c.LatencyMsAfter)}", speedup,
            ]);
        }
        return rows;
    }

    /// <summary>Column headers of the table of means over seeds.</summary>
    public static IReadOnlyList<string> MeansHeaders { get; } =
    [
        "method", "budget", "epochs", "seeds", "MACs kept (%)", "params kept (%)", "accuracy, mean (%)", "accuracy per seed (%)", "vs dense (points)", "speed-up, mean",
        "speed-up / MAC reduction, mean",
    ];

    /// <summary>
    /// One row per method label, budget and fine-tuning length, in order of first appearance: the finished cells'
    /// fine-tuned accuracy, costs and speed-up averaged over their seeds (what the method comparisons are judged on),
    /// with each seed's accuracy beside the mean. The last column is each cell's speed-up over its MAC reduction
    /// (1.0: time fell as far as the MACs), averaged over the seeds.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> MeansRows(ReportCells cells)
    {
        var rows = new List<IReadOnlyList<string>>();
        // GroupBy keeps the groups in order of their first cell.
        foreach (var group in cells.All.Select(rc => rc.Cell).Where(c => c.IsOk).GroupBy(c => (c.Label, c.BudgetFlag, c.Budget, c.Epochs)))
        {
            var list = group.ToList();
            var c = list[0];
            static double? Mean(IEnumerable<double?> values)
            {
                var v = values.Where(x => x is not null).Select(x => x!.Value).ToList();
                return v.Count == 0 ? null : v.Average();
            }
            double? acc = Mean(list.Select(x => x.AccuracyFinetuned)), before = Mean(list.Select(x => x.AccuracyBefore));
            double? speedup = Mean(list.Select(x => x.LatencyMsBefore is double lb && x.LatencyMsAfter is double la && la > 0 ? lb / la : (double?)null));
            double? perMacs = Mean(list.Select(x => ReportCharts.Speedup(x) * x.MacsKept));
            rows.Add(
            [
                c.Label == c.Method ? c.Method : $"{c.Label} ({c.Method})", c.BudgetFlag is null ? "-" : $"{c.BudgetFlag} {c.Budget}",
                c.Epochs.ToString(CultureInfo.InvariantCulture), list.Count.ToString(CultureInfo.InvariantCulture),
                Percent(Mean(list.Select(x => x.MacsKept))), Percent(Mean(list.Select(x => x.ParamsKept))), Percent(acc),
                string.Join(" / ", list.Select(x => $"{Percent(x.AccuracyFinetuned)} (s{x.Seed.ToString(CultureInfo.InvariantCulture)})")),
                acc is double a && before is double b ? ((a - b) * 100).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) : "-",
                speedup is double sp ? sp.ToString("F2", CultureInfo.InvariantCulture) + "x" : "-",
                perMacs is double pm ? pm.ToString("F2", CultureInfo.InvariantCulture) : "-",
            ]);
        }
        return rows;
    }

    /// <summary>A fraction as a percentage with two decimals (0.91234 → 91.23), or "-" when absent.</summary>
    public static string Percent(double? fraction) => fraction is double f ? (f * 100).ToString("F2", CultureInfo.InvariantCulture) : "-";

    /// <summary>A count with thousands separators (61,706), or "-".</summary>
    public static string Count(long? n) => n is long v ? v.ToString("N0", CultureInfo.InvariantCulture) : "-";

    /// <summary>Milliseconds with two decimals, or "-".</summary>
    public static string Ms(double? ms) => ms is double v ? v.ToString("F2", CultureInfo.InvariantCulture) : "-";
}
