using System.Text.Json.Nodes;
using Lopper.Cli;

namespace Lopper.Tests.Cli;

/// <summary>A benchmark result in text: scalars, number lists and record lists as aligned tables.</summary>
public class TextTableTests
{
    [Fact]
    public void RecordsBecomeOneTablePerRunOfEqualFields()
    {
        var result = new JsonObject
        {
            ["model"] = "resnet20",
            ["input"] = new JsonArray(1, 28, 28),
            ["ort"] = null,
            ["rate"] = double.PositiveInfinity,
            ["rows"] = new JsonArray(
                new JsonObject { ["op"] = "conv2d", ["ms"] = 12.5 },
                new JsonObject { ["op"] = "relu", ["ms"] = 0.25 },
                new JsonObject { ["node"] = "conv1", ["ms"] = 3, ["kernel"] = null },
                new JsonObject { ["node"] = "layer1.0.conv1", ["ms"] = 10.75, ["kernel"] = "tap lists" }),
        };
        var text = new StringWriter();
        TextTable.Write(text, result);
        string[] expected =
        [
            "model: resnet20",
            "input: 1, 28, 28",
            "ort: -",
            "rate: Infinity",
            "rows:",
            "  op        ms",
            "  conv2d  12.5",
            "  relu    0.25",
            "",
            "  node               ms  kernel",
            "  conv1               3  -",
            "  layer1.0.conv1  10.75  tap lists",
        ];
        Assert.Equal(expected, text.ToString().TrimEnd('\n').Split('\n'));
    }
}
