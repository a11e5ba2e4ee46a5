namespace Lopper.Reporting;

/// <summary>
/// A scatter chart with axes (ticks, grid, labels with units), a legend, and per series a line through
/// the mean of each point group (the seeds of one budget average into one vertex of the line, even when
/// their achieved X differs slightly).
/// </summary>
public sealed class ScatterChart
{
    /// <summary>Chart title.</summary>
    public required string Title { get; init; }
    /// <summary>X-axis label, with its unit.</summary>
    public required string XLabel { get; init; }
    /// <summary>Y-axis label, with its unit.</summary>
    public required string YLabel { get; init; }
    /// <summary>The series, in legend order.</summary>
    public required IReadOnlyList<ChartSeries> Series { get; init; }

    /// <summary>Plot-area left edge in pixels (room for tick labels and the Y label).</summary>
    public const double Left = 70;
    /// <summary>Plot-area top edge in pixels.</summary>
    public const double Top = 40;
    private const double LegendWidth = 180, Bottom = 56;
    // Points at the ends of the range (the baseline at 100%) sit this far inside the frame, not on it.
    private const double Inset = 12;

    /// <summary>The X axis of a rendering at the given size (exposed so tests can check where points land).</summary>
    public AxisScale XAxis(double width)
    {
        var (lo, hi) = Range(p => p.X);
        return new AxisScale(lo, hi, Left + Inset, width - LegendWidth - Inset);
    }

    /// <summary>The Y axis of a rendering at the given size (pixels grow downwards, so Min maps to the bottom).</summary>
    public AxisScale YAxis(double height)
    {
        var (lo, hi) = Range(p => p.Y);
        return new AxisScale(lo, hi, height - Bottom - Inset, Top + Inset);
    }

    /// <summary>Renders the chart as an SVG document.</summary>
    public string Render(double width = 760, double height = 440)
    {
        var svg = new SvgBuilder(width, height, Title);
        svg.Text(width / 2 - LegendWidth / 2 + Left / 2, 22, Title, 15, "middle", bold: true);
        double right = width - LegendWidth, bottom = height - Bottom;
        if (Series.All(s => s.Points.Count == 0))
        {
            svg.Rect(Left, Top, right - Left, bottom - Top, "#fafafa", "#999999");
            svg.Text((Left + right) / 2, (Top + bottom) / 2, "no finished cells to plot", 13, "middle", fill: "#666666");
            return svg.ToString();
        }
        var x = XAxis(width);
        var y = YAxis(height);
        ChartAxes.Draw(svg, x, y, Left, right, Top, bottom, XLabel, YLabel);

        foreach (var s in Series)
        {
            var means = s.Points.GroupBy(p => p.Group ?? p.X.ToString("R", System.Globalization.CultureInfo.InvariantCulture))
                .Select(g => (X: g.Average(p => p.X), Y: g.Average(p => p.Y))).OrderBy(m => m.X)
                .Select(m => (x.ToPixel(m.X), y.ToPixel(m.Y))).ToList();
            if (means.Count > 1) svg.Polyline(means, s.Style.Colour, 1.5);
        }
        foreach (var s in Series)
            foreach (var p in s.Points)
                svg.Marker(s.Style.Marker, x.ToPixel(p.X), y.ToPixel(p.Y), 5, s.Style.Colour, p.Tooltip ?? $"{s.Name}: ({x.Label(p.X)}, {y.Label(p.Y)})");

        // A method with no finished cell has nothing to point at; the table lists its failures.
        ChartAxes.Legend(svg, right + 16, Top, Series.Where(s => s.Points.Count > 0).Select(s => (s.Name, s.Style)).ToList());
        return svg.ToString();
    }

    private (double Lo, double Hi) Range(Func<ChartPoint, double> pick)
    {
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (var s in Series)
            foreach (var p in s.Points) { lo = Math.Min(lo, pick(p)); hi = Math.Max(hi, pick(p)); }
        return double.IsFinite(lo) ? (lo, hi) : (0, 1);
    }
}
