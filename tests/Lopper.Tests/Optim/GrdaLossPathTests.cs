using Lopper.Data;
using Lopper.Graph;
using Lopper.Pruning.Directional;
using Lopper.Tests.Training;
using Lopper.Training;

namespace Lopper.Tests.Optim;

public class GrdaLossPathTests
{
    [Fact]
    public void LineEndpointsAreTheModelsAndMidpointIsTheAverage()
    {
        var a = new Model(TinyTask.Graph(), 1);
        var b = new Model(TinyTask.Graph(), 2);
        foreach (var p in b.Parameters) if (!p.Trainable) for (int i = 0; i < p.Value.Length; i++) p.Value.Data[i] += 0.5f; // distinct running stats too
        var data = TinyTask.Data(30, 3);
        var (mean, std) = data.ChannelStats();
        var loader = new DataLoader(data, 16, 0, shuffle: false, mean, std);

        var path = LossPath.AlongLine(a, b, loader, points: 5);
        Assert.Equal([0, 0.25, 0.5, 0.75, 1], path.Select(p => p.T).ToArray());
        Assert.Equal(Evaluator.Evaluate(a, loader).Loss, path[0].Loss, 1e-6);
        Assert.Equal(Evaluator.Evaluate(b, loader).Loss, path[^1].Loss, 1e-6);
        double length = path.Sum(p => p.Distance);
        Assert.Equal(LossPath.Distance(a, b), length, 1e-6 * length);

        var mid = LossPath.Line(a, b, 0.5);
        foreach (var p in mid.Parameters)
        {
            var x = a.Find(p.Name)!.Value.Data;
            var y = b.Find(p.Name)!.Value.Data;
            for (int i = 0; i < x.Length; i++) Assert.Equal(0.5f * (x[i] + y[i]), p.Value.Data[i], 1e-6f);
        }
        // A Bezier curve whose bend is the midpoint is the straight line.
        var curved = LossPath.Bezier(a, mid, b, 0.3);
        var straight = LossPath.Line(a, b, 0.3);
        Assert.True(LossPath.Distance(curved, straight) < 1e-5);
    }

    [Fact]
    public void BatchNormReestimationReplacesInterpolatedStatistics()
    {
        var a = new Model(TinyTask.Graph(), 1);
        var b = new Model(TinyTask.Graph(), 2);
        var data = TinyTask.Data(32, 3);
        var (mean, std) = data.ChannelStats();
        var loader = new DataLoader(data, 16, 0, shuffle: false, mean, std);
        var plain = LossPath.AlongLine(a, b, loader, points: 3);
        var reestimated = LossPath.AlongLine(a, b, loader, points: 3, bnData: loader, bnBatches: 4);
        Assert.Equal(3, reestimated.Count);
        Assert.NotEqual(plain[1].Loss, reestimated[1].Loss);
        Assert.All(reestimated, p => Assert.True(double.IsFinite(p.Loss)));
    }

    [Fact]
    public void ReestimatedRunningMeanIsThePlainAverageOfTheBatchMeans()
    {
        // Batch norm straight on the input: its batch mean is the images' per-channel mean, known exactly.
        var bld = new GraphBuilder([1, 8, 8]);
        bld.Linear("fc", bld.Flatten("flatten", bld.BatchNorm("bn", bld.Input)), 3);
        var model = new Model(bld.Build("bn-first"), 1);
        model.Find("bn.running_mean")!.Value.Data[0] = 7f; // stale values must not survive
        var data = TinyTask.Data(48, 3);
        var loader = new DataLoader(data, 16, 0, shuffle: false);
        double expected = 0;
        for (int b = 0; b < 3; b++)
        {
            using var batch = loader.GetBatch(0, b);
            double sum = 0;
            foreach (var x in batch.Images.Span) sum += x;
            expected += sum / batch.Images.Length / 3;
        }
        var path = LossPath.Evaluate(_ => model, loader, points: 2, bnData: loader, bnBatches: 3);
        Assert.Equal(2, path.Count);
        Assert.Equal(expected, model.Find("bn.running_mean")!.Value.Data[0], 1e-5);
    }

    [Fact]
    public void DifferentGraphsAreRejected()
    {
        var a = new Model(TinyTask.Graph(), 1);
        var bld = new GraphBuilder([1, 8, 8]);
        bld.Linear("fc", bld.Flatten("flatten", bld.Input), 3);
        var b = new Model(bld.Build("other"));
        var data = TinyTask.Data(16, 3);
        var loader = new DataLoader(data, 16, 0, shuffle: false);
        Assert.Throws<LopperInputException>(() => LossPath.AlongLine(a, b, loader, points: 3));
    }
}
