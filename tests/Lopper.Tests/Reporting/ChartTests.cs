using System.Xml.Linq;
using Lopper.Reporting;

namespace Lopper.Tests.Reporting;

/// <summary>Axis ticks, the data-to-pixel mapping and the SVG the charts produce.</summary>
public class ChartTests
{
    [Theory]
    [InlineData(0.7, 1)]
    [InlineData(1.6, 2)]
    [InlineData(2.2, 2.5)]
    [InlineData(3.1, 5)]
    [InlineData(7, 10)]
    [InlineData(0.013, 0.02)]
    [InlineData(140, 200)]
    public void NiceStepRoundsUpTo1_2_25_5(double raw, double nice)
        => Assert.Equal(nice, AxisScale.NiceStep(raw), 9);

    [Fact]
    public void AxisCoversTheDataWithNiceTicksAndMapsLinearly()
    {
        var a = new AxisScale(27.3, 96.4, 100, 600);
        Assert.Equal(20, a.Min);
        Assert.Equal(100, a.Max);
        Assert.Equal([20, 40, 60, 80, 100], a.Ticks);
        Assert.Equal(100, a.ToPixel(20), 9);
        Assert.Equal(600, a.ToPixel(100), 9);
        Assert.Equal(350, a.ToPixel(60), 9);
        Assert.Equal("40", a.Label(40));

        // Pixels may run backwards (a Y axis): the minimum maps to the bottom.
        var y = new AxisScale(0.25, 0.95, 400, 40);
        Assert.Equal(0.2, y.Min, 9);
        Assert.Equal(1.0, y.Max, 9);
        Assert.Equal(400, y.ToPixel(y.Min), 9);
        Assert.True(y.ToPixel(0.9) < y.ToPixel(0.3));
        Assert.Equal("0.4", y.Label(0.4));
    }

    [Fact]
    public void OneValueAxisGetsRoomAndQuarterSteps()
    {
        var a = new AxisScale(50, 50, 0, 100);
        Assert.True(a.Min < 50 && a.Max > 50);
        var q = new AxisScale(0, 10, 0, 100, targetTicks: 5);
        Assert.Equal(2.5, q.Step, 9);
        Assert.Equal("7.5", q.Label(7.5));
    }

    [Fact]
    public void ScatterPlacesEveryPointWhereTheAxesSay()
    {
        var chart = new ScatterChart
        {
            Title = "t", XLabel = "x (%)", YLabel = "y (%)",
            Series =
            [
                new ChartSeries("a", SeriesStyle.ForIndex(0), [new ChartPoint(30, 80, "p1"), new ChartPoint(50, 88, "p2")]),
                new ChartSeries("b & c", SeriesStyle.ForIndex(1), [new ChartPoint(50, 86, "p3")]),
            ],
        };
        var doc = XDocument.Parse(chart.Render(760, 440));
        var x = chart.XAxis(760);
        var y = chart.YAxis(440);
        // The circle marker of series a carries its tooltip; its centre is the mapped data point.
        var p1 = doc.Descendants(SvgBuilder.Ns + "circle").Single(e => e.Element(SvgBuilder.Ns + "title")?.Value == "p1");
        Assert.Equal(x.ToPixel(30), double.Parse(p1.Attribute("cx")!.Value, System.Globalization.CultureInfo.InvariantCulture), 2);
        Assert.Equal(y.ToPixel(80), double.Parse(p1.Attribute("cy")!.Value, System.Globalization.CultureInfo.InvariantCulture), 2);
        // Series a has two X values, so a line joins them; b has one point and no line.
        Assert.Single(doc.Descendants(SvgBuilder.Ns + "polyline"));
        // Text is escaped by the builder, and every tick has a label.
        var texts = doc.Descendants(SvgBuilder.Ns + "text").Select(t => t.Value).ToList();
        Assert.Contains("b & c", texts);
        foreach (var t in x.Ticks) Assert.Contains(x.Label(t), texts);
        foreach (var t in y.Ticks) Assert.Contains(y.Label(t), texts);
    }

    [Fact]
    public void MethodsGetDistinctStyles()
    {
        var styles = Enumerable.Range(0, 10).Select(SeriesStyle.ForIndex).ToList();
        Assert.Equal(10, styles.Select(s => s.Colour).Distinct().Count());
        Assert.DoesNotContain(styles, s => s == SeriesStyle.Baseline);
    }

    [Fact]
    public void BarChartDrawsOneBarPerLayerAndSeries()
    {
        var chart = new BarChart
        {
            Title = "w", XLabel = "layer", YLabel = "channels", Categories = ["conv1", "conv2", "fc"],
            Series = [("source", SeriesStyle.ForIndex(0), [6, 16, 10]), ("pruned", SeriesStyle.ForIndex(1), [3, 0, 10])],
        };
        var doc = XDocument.Parse(chart.Render());
        var bars = doc.Descendants(SvgBuilder.Ns + "rect").Where(r => r.Element(SvgBuilder.Ns + "title")?.Value.Contains(": ") == true).ToList();
        Assert.Equal(6, bars.Count);
        double H(string tip) => double.Parse(bars.Single(b => b.Element(SvgBuilder.Ns + "title")!.Value == tip).Attribute("height")!.Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(0, H("conv2 pruned: 0"));
        Assert.Equal(H("conv2 source: 16") / 16 * 6, H("conv1 source: 6"), 1);
    }
}
