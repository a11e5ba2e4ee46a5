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

    /// <summary>A fraction as a percentage with two decimals (0.91234 → 91.23), or "-" when absent.</summary>
    public static string Percent(double? fraction) => fraction is double f ? (f * 100).ToString("F2", CultureInfo.InvariantCulture) : "-";

    /// <summary>A count with thousands separators (61,706), or "-".</summary>
    public static string Count(long? n) => n is long v ? v.ToString("N0", CultureInfo.InvariantCulture) : "-";

    /// <summary>Milliseconds with two decimals, or "-".</summary>
    public static string Ms(double? ms) => ms is double v ? v.ToString("F2", CultureInfo.InvariantCulture) : "-";
}
