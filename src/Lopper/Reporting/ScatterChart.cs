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
    /// <summary>
    /// When set, the points of different series at this X (e.g. 100% of the MACs kept, where unstructured methods
    /// and the dense baseline all land) are drawn side by side: series k of those is shifted left by k·<see cref="SpreadStep"/>
    /// pixels (a series in the baseline's style first, unshifted), so none hides another. Tooltips keep the true values.
    /// </summary>
    public double? SpreadAtX { get; init; }
    /// <summary>Pixels between neighbouring series at <see cref="SpreadAtX"/>.</summary>
    public const double SpreadStep = 7;
    /// <summary>An optional dashed reference curve y = f(x) across the X range (drawn only where it lies inside the Y range).</summary>
    public ChartReference? Reference { get; init; }

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

        if (Reference is { } reference) DrawReference(svg, reference, x, y);
        var offsets = SpreadOffsets();
        double Px(int series, double value) => x.ToPixel(value) + (AtSpread(value) ? offsets[series] : 0);
        for (int i = 0; i < Series.Count; i++)
        {
            var s = Series[i];
            var means = s.Points.GroupBy(p => p.Group ?? p.X.ToString("R", System.Globalization.CultureInfo.InvariantCulture))
                .Select(g => (X: g.Average(p => p.X), Y: g.Average(p => p.Y))).OrderBy(m => m.X)
                .Select(m => (Px(i, m.X), y.ToPixel(m.Y))).ToList();
            if (means.Count > 1) svg.Polyline(means, s.Style.Colour, 1.5);
        }
        for (int i = 0; i < Series.Count; i++)
            foreach (var p in Series[i].Points)
                svg.Marker(Series[i].Style.Marker, Px(i, p.X), y.ToPixel(p.Y), 5, Series[i].Style.Colour, p.Tooltip ?? $"{Series[i].Name}: ({x.Label(p.X)}, {y.Label(p.Y)})");

        // A method with no finished cell has nothing to point at; the table lists its failures.
        var legend = Series.Where(s => s.Points.Count > 0).Select(s => (s.Name, s.Style)).ToList();
        ChartAxes.Legend(svg, right + 16, Top, legend);
        double noteY = Top + 8 + legend.Count * 20 + 12;
        if (Reference is { } r)
        {
            svg.Line(right + 16, noteY - 4, right + 32, noteY - 4, "#777777", 1.2, "5,3");
            svg.Text(right + 38, noteY, r.Label, 11, fill: "#555555");
            noteY += 20;
        }
        if (offsets.Any(o => o != 0))
        {
            svg.Text(right + 16, noteY, $"points at x = {x.Label(SpreadAtX!.Value)} are drawn", 10, fill: "#555555");
            svg.Text(right + 16, noteY + 13, "side by side, one column", 10, fill: "#555555");
            svg.Text(right + 16, noteY + 26, "per series", 10, fill: "#555555");
        }
        return svg.ToString();
    }

    /// <summary>
    /// The pixel shift of each series' points at <see cref="SpreadAtX"/> (0 for series with no point there, and for all
    /// series when at most one has a point there).
    /// </summary>
    public double[] SpreadOffsets()
    {
        var offsets = new double[Series.Count];
        if (SpreadAtX is null) return offsets;
        var there = Enumerable.Range(0, Series.Count).Where(i => Series[i].Points.Any(p => AtSpread(p.X)))
            .OrderBy(i => Series[i].Style == SeriesStyle.Baseline ? 0 : 1).ToList();
        if (there.Count < 2) return offsets;
        for (int k = 0; k < there.Count; k++) offsets[there[k]] = -k * SpreadStep;
        return offsets;
    }

    // Achieved fractions are ratios of integer counts; 100% comes out exact, and a cell at 99.96% reads as 100% too.
    private bool AtSpread(double value) => SpreadAtX is double at && Math.Abs(value - at) <= 0.05;

    private static void DrawReference(SvgBuilder svg, ChartReference reference, AxisScale x, AxisScale y)
    {
        const int Steps = 64;
        (double X, double Y)? last = null;
        for (int i = 0; i <= Steps; i++)
        {
            double vx = x.Min + (x.Max - x.Min) * i / Steps, vy = reference.F(vx);
            (double X, double Y)? here = double.IsFinite(vy) && vy >= y.Min && vy <= y.Max ? (x.ToPixel(vx), y.ToPixel(vy)) : null;
            if (last is { } a && here is { } b) svg.Line(a.X, a.Y, b.X, b.Y, "#777777", 1.2, "5,3");
            last = here;
        }
    }

    private (double Lo, double Hi) Range(Func<ChartPoint, double> pick)
    {
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (var s in Series)
            foreach (var p in s.Points) { lo = Math.Min(lo, pick(p)); hi = Math.Max(hi, pick(p)); }
        return double.IsFinite(lo) ? (lo, hi) : (0, 1);
    }
}

