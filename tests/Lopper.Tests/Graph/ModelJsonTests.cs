using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Graph.Ops;

namespace Lopper.Tests.Graph;

public class ModelJsonTests
{
    /// <summary>A graph that uses every registered op type.</summary>
    private static ModelGraph EveryOp()
    {
        var b = new GraphBuilder([3, 8, 8]);
        var c1 = b.Conv("conv1", b.Input, 4, 3, 1, 1);
        var n1 = b.BatchNorm("bn1", c1);
        var r1 = b.Relu("relu1", n1);
        var p = b.MaxPool("pool", r1, 3, 2, 1);
        var c2 = b.Conv("conv2", p, 4, 1, 1, 0, bias: true);
        var m = b.Add("gate", new ChannelMulOp(4, trainable: false), c2);
        var s = b.Sum("add", m, p);
        var a = b.AvgPool("avg", s, 2, 2);
        var d = b.Dropout("drop", a, 0.25);
        var g = b.GlobalAvgPool("gap", d);
        var f = b.Flatten("flat", g);
        b.Add("bn_extra", new BatchNorm2dOp(4, 1e-3, 0.05), s);
        b.Linear("fc", f, 10);
        return b.Build("every-op");
    }

    [Fact]
    public void RoundTripIsExact()
    {
        var graph = EveryOp();
        string text = ModelJson.Serialize(graph);
        var parsed = ModelJson.Parse(text);
        Assert.Equal(text, ModelJson.Serialize(parsed));
        Assert.Equal(graph.Name, parsed.Name);
        Assert.Equal(graph.InputShape, parsed.InputShape);
        Assert.Equal(graph.Nodes.Count, parsed.Nodes.Count);
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            Assert.Equal(graph.Nodes[i].Name, parsed.Nodes[i].Name);
            Assert.Equal(graph.Nodes[i].Op.Type, parsed.Nodes[i].Op.Type);
            Assert.Equal(graph.Nodes[i].Inputs, parsed.Nodes[i].Inputs);
            Assert.Equal(graph.Nodes[i].OutputShape, parsed.Nodes[i].OutputShape);
            Assert.Equal(graph.Nodes[i].InputIndices, parsed.Nodes[i].InputIndices);
        }
        var types = graph.Nodes.Select(n => n.Op.Type).ToHashSet();
        Assert.Subset(OpRegistry.Types.ToHashSet(), types);
        string[] builtin = ["input", "conv2d", "linear", "batchnorm2d", "relu", "maxpool2d", "avgpool2d", "globalavgpool", "add", "flatten", "dropout", "channelmul"];
        Assert.Equal(builtin.Order(), types.Order());
        Assert.Equal(graph.Macs(), parsed.Macs());
        Assert.Equal(10, parsed.Classes);
    }

    [Fact]
    public void AttributesSurviveTheRoundTrip()
    {
        var parsed = ModelJson.Parse(ModelJson.Serialize(EveryOp()));
        var pool = Assert.IsType<MaxPool2dOp>(parsed["pool"].Op);
        Assert.Equal((3, 2, 1), (pool.Kernel, pool.Stride, pool.Padding));
        var conv = Assert.IsType<Conv2dOp>(parsed["conv2"].Op);
        Assert.Equal((4, 4, 1, 1, 0, true), (conv.InChannels, conv.OutChannels, conv.Kernel, conv.Stride, conv.Padding, conv.HasBias));
        Assert.False(Assert.IsType<ChannelMulOp>(parsed["gate"].Op).Trainable);
        Assert.Equal(0.25, Assert.IsType<DropoutOp>(parsed["drop"].Op).P);
        var bn = Assert.IsType<BatchNorm2dOp>(parsed["bn_extra"].Op);
        Assert.Equal((1e-3, 0.05), (bn.Eps, bn.Momentum));
        var fc = Assert.IsType<LinearOp>(parsed["fc"].Op);
        Assert.Equal((4, 10, true), (fc.InFeatures, fc.OutFeatures, fc.HasBias));
    }

    private static string Json(params JsonObject[] nodes) => new JsonObject
    {
        ["format"] = ModelJson.Format,
        ["name"] = "m",
        ["nodes"] = new JsonArray(nodes),
    }.ToJsonString();

    private static JsonObject InputNode() => new() { ["name"] = "input", ["op"] = "input", ["attrs"] = new JsonObject { ["shape"] = new JsonArray(3, 8, 8) } };

    [Fact]
    public void UnknownOpNamesTheOp()
    {
        string text = Json(InputNode(), new JsonObject { ["name"] = "weird", ["op"] = "frobnicate", ["inputs"] = new JsonArray("input") });
        var e = Assert.Throws<LopperInputException>(() => ModelJson.Parse(text));
        Assert.Contains("frobnicate", e.Message);
        Assert.Contains("weird", e.Message);
    }

    [Fact]
    public void WrongInChannelsNamesTheNode()
    {
        string text = Json(InputNode(), new JsonObject
        {
            ["name"] = "conv_bad", ["op"] = "conv2d", ["inputs"] = new JsonArray("input"),
            ["attrs"] = new JsonObject { ["in_channels"] = 5, ["out_channels"] = 4, ["kernel"] = 3, ["padding"] = 1 },
        });
        var e = Assert.Throws<LopperInputException>(() => ModelJson.Parse(text, "net/model.json"));
        Assert.Contains("conv_bad", e.Message);
        Assert.Contains("net/model.json", e.Message);
    }

    [Fact]
    public void ShapeMismatchInGraphConstructionNamesTheNode()
    {
        Node[] nodes =
        [
            new("input", new InputOp([3, 8, 8])),
            new("conv1", new Conv2dOp(3, 4, 3, 1, 1, false), "input"),
            new("conv2", new Conv2dOp(3, 4, 3, 1, 1, false), "conv1"),
        ];
        var e = Assert.Throws<LopperInputException>(() => new ModelGraph("bad", nodes));
        Assert.Contains("conv2", e.Message);

        Node[] add =
        [
            new("input", new InputOp([3, 8, 8])),
            new("pool", new MaxPool2dOp(2, 2), "input"),
            new("sum", new AddOp(), "input", "pool"),
        ];
        e = Assert.Throws<LopperInputException>(() => new ModelGraph("bad", add));
        Assert.Contains("sum", e.Message);

        Node[] linear =
        [
            new("input", new InputOp([3, 8, 8])),
            new("fc", new LinearOp(192, 10), "input"),
        ];
        e = Assert.Throws<LopperInputException>(() => new ModelGraph("bad", linear));
        Assert.Contains("fc", e.Message);
    }

    [Fact]
    public void BuilderRejectsMismatchedShapes()
    {
        var b = new GraphBuilder([3, 8, 8]);
        Assert.Throws<LopperInputException>(() => b.Add("conv", new Conv2dOp(2, 4, 3, 1, 1, false), b.Input));
    }

    [Theory]
    [InlineData("{\"format\":\"lopper.model/1\",\"name\":\"m\",\"nodes\":[{\"name\":\"input\",\"op\":\"input\",\"attrs\":{\"shape\":[3,8,8]}},{\"name\":\"r\",\"op\":\"relu\",\"inputs\":[\"nowhere\"]}]}", "nowhere")]
    [InlineData("{\"format\":\"lopper.model/1\",\"name\":\"m\",\"nodes\":[{\"name\":\"input\",\"op\":\"input\",\"attrs\":{\"shape\":[3,8,8]}},{\"name\":\"c\",\"op\":\"conv2d\",\"inputs\":[\"input\"],\"attrs\":{\"in_channels\":3}}]}", "out_channels")]
    [InlineData("{\"format\":\"lopper.model/1\",\"name\":\"m\",\"nodes\":[{\"name\":\"input\",\"op\":\"input\",\"attrs\":{\"shape\":[3,8,8]}},{\"name\":\"s\",\"op\":\"add\",\"inputs\":[\"input\"]}]}", "at least 2")]
    [InlineData("{\"format\":\"lopper.model/2\",\"name\":\"m\",\"nodes\":[]}", "format")]
    [InlineData("{\"format\":\"lopper.model/1\",\"name\":\"m\",\"nodes\":[{\"name\":\"r\",\"op\":\"relu\"}]}", "input")]
    [InlineData("not json", "invalid JSON")]
    public void MalformedModelJson(string text, string mentioned)
    {
        var e = Assert.Throws<LopperInputException>(() => ModelJson.Parse(text));
        Assert.Contains(mentioned, e.Message);
    }
}
