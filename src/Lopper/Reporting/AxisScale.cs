using System.Globalization;

namespace Lopper.Reporting;

/// <summary>
/// A linear axis: a data range widened to "nice" tick values (1, 2, 2.5 or 5 times a power of ten), and
/// the mapping from data to pixels.
/// </summary>
public sealed class AxisScale
{
    /// <summary>Lowest tick (the axis start).</summary>
    public double Min { get; }
    /// <summary>Highest tick (the axis end).</summary>
    public double Max { get; }
    /// <summary>Distance between ticks.</summary>
    public double Step { get; }
    /// <summary>Tick values from <see cref="Min"/> to <see cref="Max"/>.</summary>
    public IReadOnlyList<double> Ticks { get; }

    private readonly double _pixelFrom, _pixelTo;

    /// <summary>
    /// Covers [<paramref name="lo"/>, <paramref name="hi"/>] with about <paramref name="targetTicks"/> ticks and
    /// maps the axis onto pixels <paramref name="pixelFrom"/> (at Min) to <paramref name="pixelTo"/> (at Max).
    /// </summary>
    public AxisScale(double lo, double hi, double pixelFrom, double pixelTo, int targetTicks = 6)
    {
        if (!double.IsFinite(lo) || !double.IsFinite(hi)) throw new ArgumentException("axis range must be finite");
        if (hi < lo) (lo, hi) = (hi, lo);
        if (hi - lo < 1e-12)
        {
            // One value: give it room either side so it sits mid-axis rather than on an edge.
            double pad = Math.Abs(lo) > 1e-12 ? Math.Abs(lo) * 0.1 : 1;
            lo -= pad;
            hi += pad;
        }
        Step = NiceStep((hi - lo) / Math.Max(1, targetTicks - 1));
        Min = Math.Floor(lo / Step + 1e-9) * Step;
        Max = Math.Ceiling(hi / Step - 1e-9) * Step;
        var ticks = new List<double>();
        for (int i = 0; Min + i * Step <= Max + Step * 1e-6; i++) ticks.Add(Clean(Min + i * Step));
        Ticks = ticks;
        _pixelFrom = pixelFrom;
        _pixelTo = pixelTo;
    }

    /// <summary>The pixel coordinate of a data value.</summary>
    public double ToPixel(double v) => _pixelFrom + (v - Min) / (Max - Min) * (_pixelTo - _pixelFrom);

    /// <summary>A tick label with as many decimals as the step needs.</summary>
    public string Label(double v)
    {
        int decimals = Math.Max(0, (int)Math.Ceiling(-Math.Log10(Step) - 1e-9));
        if (Step * Math.Pow(10, decimals) % 1 > 1e-6) decimals++; // steps like 2.5
        return v.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    /// <summary>The nice step (1, 2, 2.5, 5 times 10^k) at or above <paramref name="raw"/>.</summary>
    public static double NiceStep(double raw)
    {
        double p = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double f = raw / p;
        double nice = f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 2.5 + 1e-9 ? 2.5 : f <= 5 + 1e-9 ? 5 : 10;
        return nice * p;
    }

    // Removes floating-point dust (0.30000000000000004) from tick values.
    private double Clean(double v)
    {
        double r = Math.Round(v / Step) * Step;
        return Math.Abs(r) < Step * 1e-9 ? 0 : Math.Round(r, 10);
    }
}
