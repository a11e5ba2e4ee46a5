using System.Globalization;
using System.Xml.Linq;

namespace Lopper.Reporting;

/// <summary>Marker shapes for scatter series (each method gets one, so charts read in greyscale too).</summary>
public enum MarkerShape
{
    /// <summary>A filled circle.</summary>
    Circle,
    /// <summary>A filled square.</summary>
    Square,
    /// <summary>A triangle pointing up.</summary>
    Triangle,
    /// <summary>A diamond.</summary>
    Diamond,
    /// <summary>A triangle pointing down.</summary>
    TriangleDown,
    /// <summary>A diagonal cross.</summary>
    Cross,
    /// <summary>A plus sign.</summary>
    Plus,
    /// <summary>A five-pointed star.</summary>
    Star,
    /// <summary>A pentagon.</summary>
    Pentagon,
    /// <summary>A hexagon.</summary>
    Hexagon,
}

/// <summary>
/// Builds an SVG document element by element through System.Xml.Linq, so every attribute and text is
/// escaped and the output is well-formed XML by construction. Coordinates are in pixels, origin top-left.
/// </summary>
public sealed class SvgBuilder
{
    /// <summary>The SVG namespace.</summary>
    public static readonly XNamespace Ns = "http://www.w3.org/2000/svg";

    private readonly XElement _root;

    /// <summary>Starts a document of the given size with a white background and a system sans-serif font (no external fonts).</summary>
    public SvgBuilder(double width, double height, string title)
    {
        Width = width;
        Height = height;
        _root = new XElement(Ns + "svg",
            new XAttribute("width", F(width)), new XAttribute("height", F(height)),
            new XAttribute("viewBox", $"0 0 {F(width)} {F(height)}"),
            new XAttribute("font-family", "Helvetica, Arial, sans-serif"),
            new XElement(Ns + "title", title));
        Rect(0, 0, width, height, "#ffffff");
    }

    /// <summary>Document width in pixels.</summary>
    public double Width { get; }
    /// <summary>Document height in pixels.</summary>
    public double Height { get; }

    /// <summary>A straight line.</summary>
    public void Line(double x1, double y1, double x2, double y2, string stroke, double width = 1, string? dash = null)
    {
        var e = new XElement(Ns + "line", A("x1", x1), A("y1", y1), A("x2", x2), A("y2", y2),
            new XAttribute("stroke", stroke), A("stroke-width", width));
        if (dash is not null) e.Add(new XAttribute("stroke-dasharray", dash));
        _root.Add(e);
    }

    /// <summary>A rectangle; <paramref name="stroke"/> null draws no outline.</summary>
    public void Rect(double x, double y, double w, double h, string fill, string? stroke = null, string? tooltip = null)
    {
        var e = new XElement(Ns + "rect", A("x", x), A("y", y), A("width", Math.Max(0, w)), A("height", Math.Max(0, h)), new XAttribute("fill", fill));
        if (stroke is not null) e.Add(new XAttribute("stroke", stroke));
        if (tooltip is not null) e.Add(new XElement(Ns + "title", tooltip));
        _root.Add(e);
    }

    /// <summary>An open polyline through the points.</summary>
    public void Polyline(IReadOnlyList<(double X, double Y)> points, string stroke, double width = 1.5)
    {
        var pts = string.Join(' ', points.Select(p => $"{F(p.X)},{F(p.Y)}"));
        _root.Add(new XElement(Ns + "polyline", new XAttribute("points", pts), new XAttribute("fill", "none"),
            new XAttribute("stroke", stroke), A("stroke-width", width)));
    }

    /// <summary>Text; <paramref name="anchor"/> is start, middle or end; <paramref name="rotate"/> turns it (degrees) about its anchor point.</summary>
    public void Text(double x, double y, string text, double size = 12, string anchor = "start", double rotate = 0, string fill = "#222222", bool bold = false)
    {
        var e = new XElement(Ns + "text", A("x", x), A("y", y), A("font-size", size), new XAttribute("text-anchor", anchor), new XAttribute("fill", fill), text);
        if (bold) e.Add(new XAttribute("font-weight", "bold"));
        if (rotate != 0) e.Add(new XAttribute("transform", $"rotate({F(rotate)} {F(x)} {F(y)})"));
        _root.Add(e);
    }

    /// <summary>A data marker of radius about <paramref name="r"/> centred on (x, y), with a hover tooltip.</summary>
    public void Marker(MarkerShape shape, double x, double y, double r, string colour, string? tooltip = null)
    {
        XElement e = shape switch
        {
            MarkerShape.Circle => new XElement(Ns + "circle", A("cx", x), A("cy", y), A("r", r)),
            MarkerShape.Square => new XElement(Ns + "rect", A("x", x - r * 0.85), A("y", y - r * 0.85), A("width", r * 1.7), A("height", r * 1.7)),
            MarkerShape.Cross => StrokePath($"M{F(x - r)},{F(y - r)} L{F(x + r)},{F(y + r)} M{F(x - r)},{F(y + r)} L{F(x + r)},{F(y - r)}", colour),
            MarkerShape.Plus => StrokePath($"M{F(x - r)},{F(y)} L{F(x + r)},{F(y)} M{F(x)},{F(y - r)} L{F(x)},{F(y + r)}", colour),
            _ => new XElement(Ns + "polygon", new XAttribute("points", PolygonPoints(shape, x, y, r))),
        };
        if (shape is not (MarkerShape.Cross or MarkerShape.Plus))
        {
            e.Add(new XAttribute("fill", colour), new XAttribute("stroke", "#ffffff"), A("stroke-width", 0.8));
        }
        e.Add(new XAttribute("class", "marker"));
        if (tooltip is not null) e.Add(new XElement(Ns + "title", tooltip));
        _root.Add(e);
    }

    /// <summary>The document as XML text (no declaration, so it can be inlined in HTML as is).</summary>
    public override string ToString() => _root.ToString(SaveOptions.None);

    /// <summary>Formats a coordinate: invariant culture, at most two decimals.</summary>
    public static string F(double v) => Math.Round(v, 2).ToString("0.##", CultureInfo.InvariantCulture);

    private static XAttribute A(string name, double v) => new(name, F(v));

    private static XElement StrokePath(string d, string colour)
        => new(Ns + "path", new XAttribute("d", d), new XAttribute("fill", "none"), new XAttribute("stroke", colour), A("stroke-width", 2.2));

    private static string PolygonPoints(MarkerShape shape, double x, double y, double r)
    {
        // Regular polygons (and the star) as (angle, radius) vertices; angle 0 points up.
        (int n, double start, bool star) = shape switch
        {
            MarkerShape.Triangle => (3, 0.0, false),
            MarkerShape.TriangleDown => (3, Math.PI, false),
            MarkerShape.Diamond => (4, 0.0, false),
            MarkerShape.Pentagon => (5, 0.0, false),
            MarkerShape.Hexagon => (6, Math.PI / 6, false),
            MarkerShape.Star => (5, 0.0, true),
            _ => throw new ArgumentOutOfRangeException(nameof(shape)),
        };
        var pts = new List<string>();
        int vertices = star ? 2 * n : n;
        double scale = shape is MarkerShape.Triangle or MarkerShape.TriangleDown or MarkerShape.Star ? 1.25 : 1.1;
        for (int i = 0; i < vertices; i++)
        {
            double a = start + 2 * Math.PI * i / vertices;
            double rr = r * scale * (star && i % 2 == 1 ? 0.45 : 1);
            pts.Add($"{F(x + rr * Math.Sin(a))},{F(y - rr * Math.Cos(a))}");
        }
        return string.Join(' ', pts);
    }
}
