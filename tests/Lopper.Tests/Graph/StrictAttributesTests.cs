using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;

namespace Lopper.Tests.Graph;

/// <summary>model.json attributes are read strictly: unknown keys, wrong types and out-of-range values fail naming op, node and attribute.</summary>
public class StrictAttributesTests
{
    private static string Model(string op, string attrs, string inputShape = "[3,8,8]") =>
        $$$"""{"format":"lopper.model/1","name":"m","nodes":[{"name":"input","op":"input","attrs":{"shape":{{{inputShape}}}}},{"name":"layer1","op":"{{{op}}}","inputs":["input"],"attrs":{{{attrs}}}}]}""";

    [Theory]
    [InlineData("conv2d", """{"in_channels":3,"out_channels":4,"kernel":3,"strides":2}""", "'strides'")]
    [InlineData("conv2d", """{"in_channels":3,"out_channels":4,"kernel":3,"stride":0}""", "'stride'")]
    [InlineData("conv2d", """{"in_channels":3,"out_channels":4,"kernel":3,"stride":2147483648}""", "'stride'")]
    [InlineData("conv2d", """{"in_channels":3,"out_channels":4,"kernel":3,"stride":"2"}""", "'stride'")]
    [InlineData("conv2d", """{"in_channels":3,"out_channels":4,"kernel":3,"stride":1.5}""", "'stride'")]
    [InlineData("conv2d", """{"in_channels":3,"out_channels":4,"kernel":3,"bias":1}""", "'bias'")]
    [InlineData("conv2d", """{"in_channels":3,"out_channels":4,"kernel":3,"groups":2}""", "groups")]
    [InlineData("conv2d", """{"in_channels":3,"out_channels":4,"kernel":3,"padding":null}""", "'padding'")]
    [InlineData("maxpool2d", """{"kernel":0}""", "'kernel'")]
    [InlineData("maxpool2d", """{"kernel":-1}""", "'kernel'")]
    [InlineData("maxpool2d", """{"kernel":2,"padding":2}""", "padding")]
    [InlineData("avgpool2d", """{"kernel":-2}""", "'kernel'")]
    [InlineData("avgpool2d", """{"kernel":2,"count_include_pads":false}""", "'count_include_pads'")]
    [InlineData("dropout", """{"p":"NaN"}""", "'p'")]
    [InlineData("dropout", """{"p":1}""", "'p'")]
    [InlineData("relu", """{"inplace":true}""", "'inplace'")]
    [InlineData("batchnorm2d", """{"channels":3,"eps":0}""", "'eps'")]
    [InlineData("channel_shuffle", """{"groups":0}""", "'groups'")]
    [InlineData("concat", """{"axis":1}""", "'axis'")]
    public void BadAttributeFailsNamingOpNodeAndAttribute(string op, string attrs, string mentioned)
    {
        var e = Assert.Throws<LopperInputException>(() => ModelJson.Parse(Model(op, attrs), "net.json"));
        Assert.Contains(mentioned, e.Message);
        Assert.Contains("layer1", e.Message);
        Assert.Contains(op, e.Message);
        Assert.Contains("net.json", e.Message);
    }

    [Fact]
    public void UnknownAttributeListsTheKnownOnes()
    {
        var e = Assert.Throws<LopperInputException>(() => ModelJson.Parse(Model("conv2d", """{"in_channels":3,"out_channels":4,"kernel":3,"strides":2}""")));
        Assert.Contains("unknown attribute 'strides'", e.Message);
        Assert.Contains("stride", e.Message.Replace("'strides'", ""));
    }

    [Fact]
    public void NewOpsAndAttributesRoundTrip()
    {
        var b = new GraphBuilder([4, 9, 9]);
        var a = b.Conv("dw", b.Input, 8, 3, padding: 2, groups: 4, dilation: 2);
        var c = b.Conv("pw", b.Input, 8, 1);
        var s = b.Conv("gate", b.GlobalAvgPool("gap", a), 8, 1, bias: true);
        var m = b.Mul("mul", a, s);
        var cat = b.Concat("cat", m, c);
        var sh = b.Shuffle("shuffle", cat, 4);
        var p = b.MaxPool("pool", sh, 3, 2, 1, ceilMode: true);
        var q = b.AvgPool("avg", p, 3, 2, 1, ceilMode: true, countIncludePad: false);
        b.Linear("fc", b.Flatten("flat", q), 3);
        var graph = b.Build("new-ops");
        string text = ModelJson.Serialize(graph);
        var parsed = ModelJson.Parse(text);
        Assert.Equal(text, ModelJson.Serialize(parsed));
        var dw = Assert.IsType<Conv2dOp>(parsed["dw"].Op);
        Assert.Equal((4, 2), (dw.Groups, dw.Dilation));
        Assert.Equal(4, Assert.IsType<ChannelShuffleOp>(parsed["shuffle"].Op).Groups);
        var avg = Assert.IsType<AvgPool2dOp>(parsed["avg"].Op);
        Assert.Equal((1, true, false), (avg.Padding, avg.CeilMode, avg.CountIncludePad));
        Assert.True(Assert.IsType<MaxPool2dOp>(parsed["pool"].Op).CeilMode);
        Assert.Equal(graph.Macs(), parsed.Macs());
    }
}

/// <summary>The CLI turns a bad model.json attribute into exit code 2 and one line naming it.</summary>
[Collection(ConsoleCollection.Name)]
public class StrictAttributesCliTests
{
    [Fact]
    public void TypoInAnAttributeNameExitsWith2()
    {
        using var dir = new TempDir();
        var run = dir.File("typo");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "model.json"),
            """{"format":"lopper.model/1","name":"m","nodes":[{"name":"input","op":"input","attrs":{"shape":[3,8,8]}},{"name":"conv1","op":"conv2d","inputs":["input"],"attrs":{"in_channels":3,"out_channels":4,"kernel":3,"strides":2}}]}""");
        var (code, _, err) = CliHarness.Run("inspect", "--from", run);
        Assert.Equal(2, code);
        Assert.Contains("unknown attribute 'strides'", err);
        Assert.Contains("conv1", err);
        Assert.Single(err.Trim().Split('\n'));
    }
}

/// <summary>The example in docs/model-json.md is a valid model.</summary>
public class ModelJsonDocTests
{
    [Fact]
    public void DocumentedExampleLoads()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "docs", "model-json.md"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var text = File.ReadAllText(Path.Combine(dir!.FullName, "docs", "model-json.md"));
        int start = text.IndexOf("```json", StringComparison.Ordinal) + "```json".Length;
        int end = text.IndexOf("```", start, StringComparison.Ordinal);
        var graph = ModelJson.Parse(text[start..end], "docs/model-json.md");
        Assert.Equal(10, graph.Classes);
        Assert.Equal([32, 9, 9], graph["pool"].OutputShape[1..]);
        // conv1 (through the depthwise conv and the SE gate) and side are coupled by the shuffle: one group of 16.
        var group = Assert.Single(Lopper.Structure.ChannelGroups.Analyze(graph).Prunable);
        Assert.Equal(16, group.Channels);
    }
}
