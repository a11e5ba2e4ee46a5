namespace Lopper.Reporting;

/// <summary>
/// Grouped bars over named categories (here: layers), one bar per series in each group, with a Y axis
/// from zero, rotated category labels and a legend.
/// </summary>
public sealed class BarChart
{
    /// <summary>Chart title.</summary>
    public required string Title { get; init; }
    /// <summary>X-axis label.</summary>
    public required string XLabel { get; init; }
    /// <summary>Y-axis label, with its unit.</summary>
    public required string YLabel { get; init; }
    /// <summary>Category names along X.</summary>
    public required IReadOnlyList<string> Categories { get; init; }
    /// <summary>Series: name, style and one value per category.</summary>
    public required IReadOnlyList<(string Name, SeriesStyle Style, IReadOnlyList<double> Values)> Series { get; init; }

    private const double Left = 70, Top = 40, LegendWidth = 180, Bottom = 120;

    /// <summary>Renders the chart as an SVG document; the width grows with the number of categories.</summary>
    public string Render(double height = 460)
    {
        foreach (var s in Series)
            if (s.Values.Count != Categories.Count) throw new ArgumentException($"series {s.Name} has {s.Values.Count} values for {Categories.Count} categories");
        double group = Math.Max(22, 8 * Series.Count + 8);
        double width = Math.Max(520, Left + LegendWidth + group * Categories.Count + 20);
        double right = width - LegendWidth, bottom = height - Bottom;
        var svg = new SvgBuilder(width, height, Title);
        svg.Text((Left + right) / 2, 22, Title, 15, "middle", bold: true);
        double max = 0;
        foreach (var s in Series) foreach (var v in s.Values) max = Math.Max(max, v);
        var y = new AxisScale(0, max > 0 ? max : 1, bottom, Top);
        ChartAxes.Draw(svg, null, y, Left, right, Top, bottom, XLabel, YLabel);
        double slot = (right - Left) / Math.Max(1, Categories.Count);
        double bar = Math.Min(14, (slot - 4) / Math.Max(1, Series.Count));
        for (int c = 0; c < Categories.Count; c++)
        {
            double x0 = Left + c * slot + (slot - bar * Series.Count) / 2;
            for (int s = 0; s < Series.Count; s++)
            {
                double v = Series[s].Values[c];
                double py = y.ToPixel(v);
                svg.Rect(x0 + s * bar, py, bar - 1, bottom - py, Series[s].Style.Colour, tooltip: $"{Categories[c]} {Series[s].Name}: {v:0.##}");
            }
            double lx = Left + (c + 0.5) * slot;
            svg.Line(lx, bottom, lx, bottom + 4, "#333333");
            svg.Text(lx + 3, bottom + 10, Categories[c], 10, "end", rotate: -55);
        }
        ChartAxes.Legend(svg, right + 16, Top, Series.Select(s => (s.Name, s.Style)).ToList());
        return svg.ToString();
    }
}
