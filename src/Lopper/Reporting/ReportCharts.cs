using System.Globalization;

namespace Lopper.Reporting;

/// <summary>Builds the report's charts from the cells: one series per method label, plus the dense baseline.</summary>
public static class ReportCharts
{
    /// <summary>Top-1 accuracy after fine-tuning against the percentage of MACs kept.</summary>
    public static ScatterChart AccuracyVsMacs(ReportCells cells) => new()
    {
        Title = "Accuracy vs MACs kept",
        XLabel = "MACs kept (% of the dense model)",
        YLabel = "top-1 test accuracy after fine-tuning (%)",
        Series = Build(cells, c => c.MacsKept * 100, c => c.AccuracyFinetuned * 100, b => b.Accuracy * 100),
        SpreadAtX = 100,
    };

    /// <summary>Top-1 accuracy after fine-tuning against the percentage of parameters kept.</summary>
    public static ScatterChart AccuracyVsParams(ReportCells cells) => new()
    {
        Title = "Accuracy vs parameters kept",
        XLabel = "parameters kept (% of the dense model)",
        YLabel = "top-1 test accuracy after fine-tuning (%)",
        Series = Build(cells, c => c.ParamsKept * 100, c => c.AccuracyFinetuned * 100, b => b.Accuracy * 100),
    };

    /// <summary>
    /// Measured speed-up (the source model's latency over the pruned model's, both timed by the same cell one after the
    /// other) against the percentage of MACs kept. A ratio, because absolute milliseconds of different cells are not
    /// comparable on a shared machine: the same dense model measures differently from cell to cell. The dashed curve is
    /// the speed-up time would show if it fell in proportion to the MACs; the dense baseline is 1x by definition.
    /// </summary>
    public static ScatterChart SpeedupVsMacs(ReportCells cells)
    {
        var batches = cells.All.Where(c => c.Cell.IsOk && c.Cell.LatencyBatch is not null).Select(c => c.Cell.LatencyBatch!.Value).Distinct().ToList();
        string batch = batches.Count == 1 ? $"batch {batches[0]}" : "one batch";
        var series = Build(cells, c => c.MacsKept * 100, Speedup, _ => null);
        if (series.Any(s => s.Points.Count > 0))
            series = [.. series, new ChartSeries("baseline (dense)", SeriesStyle.Baseline, [new ChartPoint(100, 1, "baseline: the dense source, 1x by definition")])];
        return new ScatterChart
        {
            Title = "Measured speed-up vs MACs kept",
            XLabel = "MACs kept (% of the dense model)",
            YLabel = $"speed-up over the dense source, {batch} (x)",
            Series = series,
            SpreadAtX = 100,
            Reference = new ChartReference("100 / MACs kept", x => 100 / x),
        };
    }

    /// <summary>The cell's speed-up: source latency over pruned latency, or null when either was not measured.</summary>
    public static double? Speedup(CellResult c)
        => c.LatencyMsBefore is double before && c.LatencyMsAfter is double after && before > 0 && after > 0 ? before / after : null;

    /// <summary>Output width per conv/linear layer of a cell's model against the model it is compared with.</summary>
    public static BarChart Widths(ReportCells cells, ReportCell cell, IReadOnlyList<LayerWidth> widths) => new()
    {
        Title = $"Layer widths: {cell.ShownId}",
        XLabel = "layer",
        YLabel = "output channels / features",
        Categories = widths.Select(w => w.Layer).ToList(),
        Series =
        [
            ("source", new SeriesStyle("#b8b8b8", MarkerShape.Square), widths.Select(w => (double)w.Before).ToList()),
            (cell.Cell.Label, cells.StyleOf(cell.Cell.Label) with { Marker = MarkerShape.Square }, widths.Select(w => (double)w.After).ToList()),
        ],
    };

    private static List<ChartSeries> Build(ReportCells cells, Func<CellResult, double?> x, Func<CellResult, double?> y, Func<BaselineResult, double?> baselineY)
    {
        var series = new List<ChartSeries>();
        foreach (var label in cells.Labels)
        {
            var pts = new List<ChartPoint>();
            foreach (var rc in cells.All)
            {
                var c = rc.Cell;
                if (c.Label != label || !c.IsOk || x(c) is not double px || y(c) is not double py) continue;
                pts.Add(new ChartPoint(px, py, $"{rc.ShownId}: ({px.ToString("F2", CultureInfo.InvariantCulture)}, {py.ToString("F2", CultureInfo.InvariantCulture)})",
                    $"{rc.Results.Name}/{c.BudgetFlag}/{c.Budget}/{c.Epochs}"));
            }
            series.Add(new ChartSeries(label, cells.StyleOf(label), pts));
        }
        var basePts = new List<ChartPoint>();
        foreach (var (r, _) in cells.Files)
            if (r.Baseline is { } b && baselineY(b) is double by)
                basePts.Add(new ChartPoint(100, by, $"baseline {r.Name}: {by.ToString("F2", CultureInfo.InvariantCulture)}"));
        if (basePts.Count > 0) series.Add(new ChartSeries("baseline (dense)", SeriesStyle.Baseline, basePts));
        return series;
    }
}
