using System.Globalization;
using System.Xml.Linq;
using Lopper.Reporting;

namespace Lopper.Tests.Reporting;

/// <summary>The speed-up chart plots source latency / pruned latency, and keeps the series that sit at 100% MACs apart.</summary>
public class SpeedupChartTests
{
    private static CellResult Cell(string id, string label, long macsAfter, double before, double after) => new()
    {
        Id = id, Label = label, Method = label, Kind = "prune", BudgetFlag = "target-macs", Budget = id, Epochs = 2,
        Status = CellResult.Ok, Dir = "cells/" + id, Source = "baseline", Model = "cells/" + id,
        AccuracyBefore = 0.9, AccuracyPruned = 0.5, AccuracyFinetuned = 0.88,
        ParamsBefore = 1000, ParamsAfter = 500, MacsBefore = 10_000, MacsAfter = macsAfter,
        LatencyBatch = 128, LatencyMsBefore = before, LatencyMsAfter = after,
    };

    // Two unstructured methods keep all MACs (like magnitude and gRDA); their source latencies differ from cell to cell,
    // as they do on a shared machine, so the chart must use each cell's own ratio.
    private static readonly CellResult[] Cells =
    [
        Cell("l1-a", "l1", 5_000, 40, 20),
        Cell("l1-b", "l1", 3_000, 48, 16),
        Cell("magnitude-a", "magnitude", 10_000, 46, 44),
        Cell("grda-a", "grda", 10_000, 41, 41),
        Cell("grda-b", "grda", 10_000, 47, 47),
    ];

    private static ReportCells Report() => new([(new ExperimentResults { Name = "t", Cells = Cells }, "/tmp/t/results.json")]);

    private static double Num(XElement e, string attr) => double.Parse(e.Attribute(attr)!.Value, CultureInfo.InvariantCulture);

    /// <summary>A marker's centre: circles carry cx/cy, the other shapes are polygons or rects around it.</summary>
    private static (double X, double Y) Centre(XElement marker)
    {
        if (marker.Name.LocalName == "circle") return (Num(marker, "cx"), Num(marker, "cy"));
        if (marker.Name.LocalName == "rect") return (Num(marker, "x") + Num(marker, "width") / 2, Num(marker, "y") + Num(marker, "height") / 2);
        var pts = marker.Attribute("points")!.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToList();
        return ((pts.Min(p => p[0]) + pts.Max(p => p[0])) / 2, (pts.Min(p => p[1]) + pts.Max(p => p[1])) / 2);
    }

    [Fact]
    public void YValuesAreEachCellsSourceOverPrunedLatency()
    {
        var chart = ReportCharts.SpeedupVsMacs(Report());
        var points = chart.Series.Where(s => s.Style != SeriesStyle.Baseline).SelectMany(s => s.Points).ToList();
        Assert.Equal(Cells.Length, points.Count);
        Assert.Equal([2.0, 3.0, 46.0 / 44, 1.0, 1.0], points.Select(p => p.Y).ToArray());
        Assert.Equal([50.0, 30.0, 100.0, 100.0, 100.0], points.Select(p => p.X).ToArray());
        // The baseline is the dense source itself: 1x at 100%.
        var baseline = Assert.Single(chart.Series.Single(s => s.Style == SeriesStyle.Baseline).Points);
        Assert.Equal((100.0, 1.0), (baseline.X, baseline.Y));
        Assert.Null(ReportCharts.Speedup(Cells[0] with { LatencyMsAfter = null }));
    }

    [Fact]
    public void SvgHasOneMarkerPerCellAndTheSeriesAt100PercentApart()
    {
        var chart = ReportCharts.SpeedupVsMacs(Report());
        var doc = XDocument.Parse(chart.Render(760, 440));
        var x = chart.XAxis(760);
        var y = chart.YAxis(440);
        // Data markers carry the cell id in their tooltip (legend markers carry the series name only).
        var markers = Cells.ToDictionary(c => c.Id, c => Centre(Assert.Single(doc.Descendants(), e =>
            e.Element(SvgBuilder.Ns + "title")?.Value.StartsWith(c.Id + ":", StringComparison.Ordinal) == true)));

        // Away from 100% a point sits exactly where the axes put it, at its speed-up.
        Assert.Equal(x.ToPixel(50), markers["l1-a"].X, 1);
        Assert.Equal(y.ToPixel(2), markers["l1-a"].Y, 1);
        Assert.Equal(y.ToPixel(3), markers["l1-b"].Y, 1);

        // At 100% the baseline star keeps its place and each other series gets its own column, a few pixels apart;
        // points of one series (the two gRDA cells) share a column.
        var star = Centre(doc.Descendants().Single(e => e.Element(SvgBuilder.Ns + "title")?.Value.StartsWith("baseline:", StringComparison.Ordinal) == true));
        Assert.Equal(x.ToPixel(100), star.X, 1);
        double mag = markers["magnitude-a"].X, grda = markers["grda-a"].X;
        Assert.Equal(grda, markers["grda-b"].X, 6);
        Assert.Equal(3, new[] { star.X, mag, grda }.Select(v => Math.Round(v, 1)).Distinct().Count());
        foreach (var px in new[] { mag, grda })
            Assert.InRange(x.ToPixel(100) - px, ScatterChart.SpreadStep - 0.5, 2 * ScatterChart.SpreadStep + 0.5);
        Assert.Equal(y.ToPixel(46.0 / 44), markers["magnitude-a"].Y, 1);
    }

    [Fact]
    public void NoSpreadWhenOnlyOneSeriesIsAt100Percent()
    {
        var chart = new ScatterChart
        {
            Title = "t", XLabel = "x", YLabel = "y", SpreadAtX = 100,
            Series = [new ChartSeries("a", SeriesStyle.ForIndex(0), [new ChartPoint(100, 1), new ChartPoint(50, 2)])],
        };
        Assert.All(chart.SpreadOffsets(), o => Assert.Equal(0, o));
    }
}
