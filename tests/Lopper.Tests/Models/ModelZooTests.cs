using Lopper.Graph;
using Lopper.Models;
using Lopper.Tensors;

namespace Lopper.Tests.Models;

public class ModelZooTests
{
    private static readonly int[] Mnist = [1, 28, 28];
    private static readonly int[] Cifar = [3, 32, 32];
    private static readonly int[] ImageNet = [3, 224, 224];

    private static long Params(ModelGraph graph) => new Model(graph).ParameterCount();

    // Targets are PyTorch's sum(p.numel() for p in model.parameters()) and the usual conv+linear MAC
    // count, so a mismatch means the definition drifted from the reference architecture.
    [Theory]
    [InlineData("lenet5", 1, 28, 28, 10, 61_706L)]
    [InlineData("vgg-small", 1, 28, 28, 10, 1_147_722L)]
    [InlineData("vgg16", 3, 32, 32, 10, 14_724_042L)]
    [InlineData("resnet20", 3, 32, 32, 10, 272_474L)]
    [InlineData("resnet56", 3, 32, 32, 10, 855_770L)]
    [InlineData("resnet18", 3, 224, 224, 1000, 11_689_512L)]
    [InlineData("resnet50", 3, 224, 224, 1000, 25_557_032L)]
    public void ParameterCountsMatchPyTorch(string name, int c, int h, int w, int classes, long expected)
    {
        var graph = ModelZoo.Create(name, [c, h, w], classes);
        Assert.Equal(expected, Params(graph));
        Assert.Equal(classes, graph.Classes);
        Assert.Equal(name, graph.Name);
    }

    [Fact]
    public void Vgg16Macs() => Assert.Equal(313_201_664L, ModelZoo.Create("vgg16", Cifar, 10).Macs());

    [Fact]
    public void ResNet56Macs() => Assert.Equal(125_747_840L, ModelZoo.Create("resnet56", Cifar, 10).Macs());

    [Fact]
    public void ResNet50Macs() => Assert.Equal(4_089_184_256L, ModelZoo.Create("resnet50", ImageNet, 1000).Macs());

    [Fact]
    public void ResNet20BuildsOnMnistShape()
    {
        var graph = ModelZoo.Create("resnet20", Mnist, 10);
        Assert.Equal(10, graph.Classes);
        Assert.Equal([1, 10], graph.Nodes[^1].OutputShape);
        Assert.Equal(Mnist, graph.InputShape);
    }

    [Fact]
    public void ParameterNamesFollowPyTorch()
    {
        var cifar = new Model(ModelZoo.Create("resnet20", Cifar, 10));
        Assert.NotNull(cifar.Find("conv1.weight"));
        Assert.NotNull(cifar.Find("layer1.0.conv1.weight"));
        Assert.NotNull(cifar.Find("layer2.0.shortcut.0.weight"));
        Assert.NotNull(cifar.Find("layer2.0.shortcut.1.running_var"));
        Assert.Null(cifar.Find("layer1.0.shortcut.0.weight"));
        Assert.NotNull(cifar.Find("linear.bias"));

        // resnet18 rather than resnet50 only because initialising 25M weights makes the test slow.
        var imagenet = new Model(ModelZoo.Create("resnet18", [3, 64, 64], 1000));
        Assert.NotNull(imagenet.Find("layer2.0.downsample.0.weight"));
        Assert.Null(imagenet.Find("layer1.0.downsample.0.weight"));
        Assert.NotNull(imagenet.Find("layer4.1.bn2.bias"));
        Assert.NotNull(imagenet.Find("fc.weight"));
        var bottleneck = ModelZoo.Create("resnet50", ImageNet, 1000);
        Assert.True(bottleneck.IndexOf("layer1.0.downsample.0") > 0);
        Assert.True(bottleneck.IndexOf("layer4.2.conv3") > 0);

        var vgg = new Model(ModelZoo.Create("vgg11", Cifar, 10));
        Assert.NotNull(vgg.Find("features.0.weight"));
        Assert.NotNull(vgg.Find("features.1.running_mean"));
        Assert.NotNull(vgg.Find("classifier.weight"));
    }

    public static TheoryData<string> AllNames() => new(ModelZoo.Names);

    [Theory]
    [MemberData(nameof(AllNames))]
    public void RoundTripsThroughModelJson(string name)
    {
        int[] shape = name is "resnet18" or "resnet50" ? ImageNet : Cifar;
        var graph = ModelZoo.Create(name, shape, 10);
        string first = ModelJson.Serialize(graph);
        var parsed = ModelJson.Parse(first);
        Assert.Equal(first, ModelJson.Serialize(parsed));
    }

    [Theory]
    [InlineData("lenet5", 1, 28, 28)]
    [InlineData("vgg-small", 1, 28, 28)]
    [InlineData("resnet20", 3, 32, 32)]
    public void ForwardGivesFiniteLogits(string name, int c, int h, int w)
    {
        const int classes = 10, batch = 2;
        var model = new Model(ModelZoo.Create(name, [c, h, w], classes), seed: 7);
        var rng = new Rng(11);
        var data = new float[batch * c * h * w];
        for (int i = 0; i < data.Length; i++) data[i] = (float)rng.NextNormal();
        var output = new Executor(model).Forward(new Tensor([batch, c, h, w], data), training: false, forBackward: false);
        Assert.Equal([batch, classes], output.Shape);
        foreach (float v in output.Span) Assert.True(float.IsFinite(v), $"{name} produced {v}");
    }

    [Fact]
    public void NamesAreMatchedCaseInsensitively() => Assert.Equal("resnet20", ModelZoo.Create("ResNet20", Cifar, 10).Name);

    [Fact]
    public void UnknownNameListsKnownModels()
    {
        var e = Assert.Throws<LopperInputException>(() => ModelZoo.Create("alexnet", Cifar, 10));
        Assert.Contains("'alexnet'", e.Message);
        foreach (var known in ModelZoo.Names) Assert.Contains(known, e.Message);
    }

    [Fact]
    public void BadShapeOrClassesIsInputError()
    {
        Assert.Throws<LopperInputException>(() => ModelZoo.Create("lenet5", [28, 28], 10));
        Assert.Throws<LopperInputException>(() => ModelZoo.Create("lenet5", Mnist, 0));
        var e = Assert.Throws<LopperInputException>(() => ModelZoo.Create("lenet5", [1, 8, 8], 10));
        Assert.Contains("lenet5", e.Message);
    }
}
