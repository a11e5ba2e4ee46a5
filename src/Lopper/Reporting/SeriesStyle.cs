namespace Lopper.Reporting;

/// <summary>Colour and marker of one series.</summary>
/// <param name="Colour">CSS colour.</param>
/// <param name="Marker">Marker shape.</param>
public sealed record SeriesStyle(string Colour, MarkerShape Marker)
{
    // Tableau 10: distinguishable, and paired with a distinct marker so print and colour-blind readers can tell methods apart.
    private static readonly string[] Palette =
        ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

    private static readonly MarkerShape[] Shapes =
        [MarkerShape.Circle, MarkerShape.Square, MarkerShape.Triangle, MarkerShape.Diamond, MarkerShape.TriangleDown,
         MarkerShape.Cross, MarkerShape.Plus, MarkerShape.Pentagon, MarkerShape.Hexagon, MarkerShape.Circle];

    /// <summary>The style of the dense baseline: a black star, never used by a method.</summary>
    public static SeriesStyle Baseline { get; } = new("#000000", MarkerShape.Star);

    /// <summary>The i-th method's style (colours repeat after 10, with shifted markers).</summary>
    public static SeriesStyle ForIndex(int i) => new(Palette[i % Palette.Length], Shapes[(i + i / Palette.Length) % Shapes.Length]);
}

/// <summary>One named set of points.</summary>
/// <param name="Name">Legend label.</param>
/// <param name="Style">Colour and marker.</param>
/// <param name="Points">Data points with a tooltip each.</param>
public sealed record ChartSeries(string Name, SeriesStyle Style, IReadOnlyList<ChartPoint> Points);

/// <summary>A data point.</summary>
/// <param name="X">X value.</param>
/// <param name="Y">Y value.</param>
/// <param name="Tooltip">Shown on hover (the cell's id and values).</param>
/// <param name="Group">Points of one group (e.g. the seeds of one budget) average into one vertex of the series' line; null groups by X.</param>
public sealed record ChartPoint(double X, double Y, string? Tooltip = null, string? Group = null);

/// <summary>A reference curve drawn dashed behind the points, e.g. the speed-up if time fell with the MACs.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="F">y as a function of x, in data units.</param>
public sealed record ChartReference(string Label, Func<double, double> F);
