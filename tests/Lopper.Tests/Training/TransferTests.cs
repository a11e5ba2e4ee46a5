using Lopper.Graph;
using Lopper.Models;
using Lopper.Training;

namespace Lopper.Tests.Training;

public class TransferTests
{
    [Fact]
    public void ResetHeadKeepsTheBodyAndReseedsTheHead()
    {
        var model = new Model(LeNet5.Create([1, 28, 28], 10), 1);
        var five = Transfer.ResetHead(model, 5, 42);
        Assert.Equal(5, five.Graph.Classes);
        Assert.Equal([5, 84], five.Find("fc3.weight")!.Value.Shape);
        foreach (var p in five.Parameters)
            if (p.Owner.Name != "fc3") Assert.Equal(model.Find(p.Name)!.Value.Span.ToArray(), p.Value.Span.ToArray());
        // The head is a fresh init from the seed: the same seed gives the same head, another seed another.
        Assert.Equal(five.Find("fc3.weight")!.Value.Span.ToArray(), Transfer.ResetHead(model, 5, 42).Find("fc3.weight")!.Value.Span.ToArray());
        Assert.NotEqual(five.Find("fc3.weight")!.Value.Span.ToArray(), Transfer.ResetHead(model, 5, 43).Find("fc3.weight")!.Value.Span.ToArray());
        Assert.Equal("fc3", Transfer.Head(model.Graph).Name);
    }

    [Fact]
    public void FreezeUntilHoldsEarlierNodesOnly()
    {
        var model = new Model(LeNet5.Create([1, 28, 28], 10), 1);
        var frozen = Transfer.FreezeUntil(model, "pool2");
        Assert.True(frozen(model.Find("conv1.weight")!));
        Assert.True(frozen(model.Find("conv2.bias")!));
        Assert.False(frozen(model.Find("fc1.weight")!));
        Assert.Contains("no node 'nope'", Assert.Throws<LopperInputException>(() => Transfer.FreezeUntil(model, "nope")).Message);
        Assert.Contains("freezes every trainable parameter", Assert.Throws<LopperInputException>(() => Transfer.FreezeUntil(model, "fc3")).Message);
    }
}
