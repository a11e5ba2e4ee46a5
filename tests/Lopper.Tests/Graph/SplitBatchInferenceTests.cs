using Lopper.Graph;
using Lopper.Tensors;
using Lopper.Tests.Structure;

namespace Lopper.Tests.Graph;

[Collection(SerialGraphCollection.Name)]
public class SplitBatchInferenceTests
{
    [Theory]
    [InlineData("resnet20", 19, 8, 2)]   // sub-batches of 8, 8 and 3
    [InlineData("resnet20", 7, 8, 2)]    // a small batch: 4 + 3, one sub-batch per thread
    [InlineData("vgg-small", 5, 2, 1)]
    [InlineData("lenet5", 4, 16, 2)]     // one sub-batch larger than the batch
    [InlineData("resnet20", 1, 8, 2)]    // one image on two threads: its convolutions' output rows are split
    [InlineData("vgg-small", 1, 8, 2)]
    public void MatchesWholeBatchForward(string name, int batch, int subBatch, int threads)
    {
        using (new ThreadsScope(threads))
        {
            var model = InferenceFolding.Fold(StructureFixtures.Build(name, 41));
            var x = StructureFixtures.Input(model, batch, 5);
            var expected = StructureFixtures.Run(model, x);
            var run = new SplitBatchInference(model, subBatch);
            for (int pass = 0; pass < 2; pass++)   // executors are reused from pass to pass, packed weights included
            {
                var y = run.Forward(x);
                Assert.Equal([batch, model.Graph.Classes], y.Shape);
                StructureFixtures.AssertClose(expected, y.Data);
                y.Release();
            }
        }
    }

    [Fact]
    public void WrongInputShapeIsAClearError()
    {
        var model = StructureFixtures.Build("lenet5", 41);
        var e = Assert.Throws<LopperInputException>(() => new SplitBatchInference(model).Forward(new Tensor(2, 3, 28, 28)));
        Assert.Contains("does not match the model", e.Message);
    }
}
