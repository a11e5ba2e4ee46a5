namespace Lopper.Reporting;

/// <summary>Axis lines, ticks, grid, axis labels and legends shared by the chart kinds.</summary>
internal static class ChartAxes
{
    /// <summary>Draws both axes of a plot area with ticks, light grid lines and labels.</summary>
    public static void Draw(SvgBuilder svg, AxisScale? x, AxisScale y, double left, double right, double top, double bottom, string xLabel, string yLabel)
    {
        foreach (var t in y.Ticks)
        {
            double py = y.ToPixel(t);
            svg.Line(left, py, right, py, "#e6e6e6");
            svg.Line(left - 5, py, left, py, "#333333");
            svg.Text(left - 8, py + 4, y.Label(t), 11, "end");
        }
        if (x is not null)
        {
            foreach (var t in x.Ticks)
            {
                double px = x.ToPixel(t);
                svg.Line(px, top, px, bottom, "#eeeeee");
                svg.Line(px, bottom, px, bottom + 5, "#333333");
                svg.Text(px, bottom + 18, x.Label(t), 11, "middle");
            }
        }
        svg.Line(left, bottom, right, bottom, "#333333");
        svg.Line(left, top, left, bottom, "#333333");
        svg.Text((left + right) / 2, x is null ? bottom + 112 : bottom + 40, xLabel, 12, "middle");
        svg.Text(18, (top + bottom) / 2, yLabel, 12, "middle", rotate: -90);
    }

    /// <summary>A legend: one marker and label per entry, top to bottom.</summary>
    public static void Legend(SvgBuilder svg, double x, double y, IReadOnlyList<(string Name, SeriesStyle Style)> entries)
    {
        for (int i = 0; i < entries.Count; i++)
        {
            double ey = y + 8 + i * 20;
            svg.Marker(entries[i].Style.Marker, x + 6, ey, 5, entries[i].Style.Colour, entries[i].Name);
            svg.Text(x + 18, ey + 4, entries[i].Name, 12);
        }
    }
}
