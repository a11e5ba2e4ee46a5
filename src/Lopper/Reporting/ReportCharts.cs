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
    };

    /// <summary>Top-1 accuracy after fine-tuning against the percentage of parameters kept.</summary>
    public static ScatterChart AccuracyVsParams(ReportCells cells) => new()
    {
        Title = "Accuracy vs parameters kept",
        XLabel = "parameters kept (% of the dense model)",
        YLabel = "top-1 test accuracy after fine-tuning (%)",
        Series = Build(cells, c => c.ParamsKept * 100, c => c.AccuracyFinetuned * 100, b => b.Accuracy * 100),
    };

    /// <summary>Measured latency of one batch against the percentage of MACs kept; the baseline is the mean dense latency the cells measured.</summary>
    public static ScatterChart LatencyVsMacs(ReportCells cells)
    {
        var batches = cells.All.Where(c => c.Cell.IsOk && c.Cell.LatencyBatch is not null).Select(c => c.Cell.LatencyBatch!.Value).Distinct().ToList();
        string batch = batches.Count == 1 ? $"batch {batches[0]}" : "one batch";
        var series = Build(cells, c => c.MacsKept * 100, c => c.LatencyMsAfter, _ => null);
        // Every prune cell measures the dense baseline too (latency_ms_before); the median of those is the
        // baseline's point (the median, since the first measurement of a process often runs cold).
        var dense = cells.All.Where(c => c.Cell.IsOk && c.Cell.LatencyMsBefore is not null && c.Cell.Kind == "prune").Select(c => c.Cell.LatencyMsBefore!.Value).Order().ToList();
        if (dense.Count > 0)
        {
            double median = dense.Count % 2 == 1 ? dense[dense.Count / 2] : (dense[dense.Count / 2 - 1] + dense[dense.Count / 2]) / 2;
            series = [.. series, new ChartSeries("baseline (dense)", SeriesStyle.Baseline,
                [new ChartPoint(100, median, $"baseline: median dense latency {median.ToString("F2", CultureInfo.InvariantCulture)} ms over {dense.Count} measurements")])];
        }
        return new ScatterChart
        {
            Title = "Measured latency vs MACs kept",
            XLabel = "MACs kept (% of the dense model)",
            YLabel = $"median latency, {batch} (ms)",
            Series = series,
        };
    }

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
