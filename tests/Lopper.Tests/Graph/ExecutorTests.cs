using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using Lopper.Training;
using static Lopper.Tests.Graph.GradCheck;

namespace Lopper.Tests.Graph;

/// <summary>Small residual network used by the executor-level tests.</summary>
internal static class TinyResNet
{
    public const int Batch = 3, Classes = 4;
    public static readonly int[] Labels = [1, 3, 0];

    /// <summary>conv -> bn -> relu -> [conv -> bn] + shortcut -> relu -> (dropout) -> gap -> flatten -> linear.</summary>
    public static Model Build(bool withDropout = false, bool withMaxPool = false, ulong seed = 5)
    {
        var b = new GraphBuilder([3, 6, 6]);
        var x = b.Input;
        if (withMaxPool) x = b.MaxPool("pool", x, 3, 2, 1);
        var r1 = b.Relu("relu1", b.BatchNorm("bn1", b.Conv("conv1", x, 3, 3, 1, 1)));
        var n2 = b.BatchNorm("bn2", b.Conv("conv2", r1, 3, 3, 1, 1));
        var r2 = b.Relu("relu2", b.Sum("add", n2, r1));
        if (withDropout) r2 = b.Dropout("drop", r2, 0.3);
        b.Linear("fc", b.Flatten("flat", b.GlobalAvgPool("gap", r2)), Classes);
        var model = new Model(b.Build("tiny-resnet"), seed);
        // Non-trivial affine batch-norm parameters and running statistics.
        var rng = new Rng(seed + 100);
        foreach (var p in model.Parameters)
        {
            if (p.Name.EndsWith(".weight") && p.Name.StartsWith("bn")) for (int i = 0; i < p.Value.Length; i++) p.Value.Data[i] = 1 + 0.3f * (float)rng.NextNormal();
            if (p.Name.EndsWith(".bias") && p.Name.StartsWith("bn")) for (int i = 0; i < p.Value.Length; i++) p.Value.Data[i] = 0.3f * (float)rng.NextNormal();
            if (p.Name.EndsWith("running_mean")) for (int i = 0; i < p.Value.Length; i++) p.Value.Data[i] = 0.2f * (float)rng.NextNormal();
            if (p.Name.EndsWith("running_var")) for (int i = 0; i < p.Value.Length; i++) p.Value.Data[i] = 0.5f + rng.NextFloat();
        }
        return model;
    }

    public static Tensor Input(ulong seed = 6) => Randn(new Rng(seed), Batch, 3, 6, 6);

    public static Func<Tensor, Tensor?, double> CrossEntropy(float smoothing = 0) =>
        (y, grad) => SoftmaxCrossEntropy.Compute(y, Labels, smoothing, grad, out _);

    /// <summary>One training step: forward kept for backward, loss gradient, backward, end of step.</summary>
    public static double Step(Executor exec, Tensor input, ulong seed = 1)
    {
        var y = exec.Forward(input, training: true, forBackward: true, new Rng(seed));
        var grad = Tensor.Pooled(y.Shape);
        double loss = SoftmaxCrossEntropy.Compute(y, Labels, 0.1f, grad, out _);
        exec.Backward(grad);
        exec.EndStep();
        return loss;
    }
}

public class ExecutorTests
{
    [Theory]
    [InlineData(0f)]
    [InlineData(0.1f)]
    public void ResidualGraphGradientsMatchFiniteDifferences(float smoothing)
    {
        var model = TinyResNet.Build();
        var g = CheckModel(model, TinyResNet.Input(), TinyResNet.CrossEntropy(smoothing), eps: 1e-3);
        Assert.Equal(model.Parameters.Where(p => p.Trainable).Select(p => p.Name).Order(), g.Keys.Order());
        Assert.Contains(g.Values, v => v.Any(f => Math.Abs(f) > 1e-3));
    }

    [Fact]
    public void TrainingForwardFreesWhatNoBackwardReads()
    {
        // Batch-norm and add outputs are read by no backward here (the ReLUs after them read only their own
        // outputs), so they go back to the pool during the forward pass; what backward needs stays.
        var model = TinyResNet.Build();
        var exec = new Executor(model);
        var seen = new Dictionary<string, Tensor>();
        exec.AfterForward = (node, y) => seen[node.Name] = y;
        exec.Forward(TinyResNet.Input(), training: true, forBackward: true, new Rng(1));
        foreach (var freed in new[] { "bn1", "bn2", "add" }) Assert.Empty(seen[freed].Data);
        foreach (var kept in new[] { "conv1", "relu1", "conv2", "relu2", "gap", "fc" }) Assert.NotEmpty(seen[kept].Data);
        exec.EndStep();
    }

    [Fact]
    public void ResidualGraphWithDropoutAndMaxPool()
    {
        var model = TinyResNet.Build(withDropout: true, withMaxPool: true);
        CheckModel(model, TinyResNet.Input(), TinyResNet.CrossEntropy(), eps: 1e-3, seed: 21);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void InferenceForwardMatchesForwardKeptForBackward(bool training)
    {
        var model = TinyResNet.Build(withDropout: true, withMaxPool: true);
        var exec = new Executor(model);
        var x = TinyResNet.Input();
        var stats = model.Parameters.Where(p => !p.Trainable).ToArray();
        var saved = stats.Select(p => p.Value.Clone()).ToArray();
        void Restore()
        {
            for (int i = 0; i < stats.Length; i++) saved[i].Span.CopyTo(stats[i].Value.Span);
        }

        var kept = (float[])exec.Forward(x, training, forBackward: true, new Rng(4)).Data.Clone();
        exec.EndStep();
        for (int rep = 0; rep < 3; rep++)
        {
            Restore();
            var y = exec.Forward(x, training, forBackward: false, new Rng(4));
            Assert.Equal([TinyResNet.Batch, TinyResNet.Classes], y.Shape);
            Assert.Equal(kept, y.Data);
            exec.EndStep();
        }
        if (!training)
            for (int i = 0; i < stats.Length; i++) Assert.Equal(saved[i].Data, stats[i].Value.Data);
    }

    [Fact]
    public void EvalOutputDoesNotDependOnTheRestOfTheBatch()
    {
        var model = TinyResNet.Build(withDropout: true);
        var exec = new Executor(model);
        var x = TinyResNet.Input();
        var all = (float[])exec.Forward(x, training: false, forBackward: false).Data.Clone();
        exec.EndStep();
        var one = new Tensor([1, 3, 6, 6], x.Data.AsSpan(3 * 36, 3 * 36).ToArray());
        var y = exec.Forward(one, training: false, forBackward: false);
        for (int k = 0; k < TinyResNet.Classes; k++) Assert.Equal(all[TinyResNet.Classes + k], y.Data[k], 1e-5);
        exec.EndStep();
    }

    [Fact]
    public void NodeFeedingFlattenAndAnotherOpInInference()
    {
        // r feeds a flatten (whose output shares r's array) and, later, a global average pool. Releasing the
        // flatten's output must not free r's array while the pool still has to read it.
        var b = new GraphBuilder([2, 2, 2]);
        var r = b.Relu("r", b.Conv("c", b.Input, 2, 1, bias: true));
        var l1 = b.Linear("l1", b.Flatten("f1", r), 3);
        b.Add("m", new ChannelMulOp(2), r);
        var l2 = b.Linear("l2", b.Flatten("f2", b.GlobalAvgPool("g", r)), 3);
        b.Sum("out", l1, l2);
        var model = new Model(b.Build("alias"), 3);
        var rng = new Rng(8);
        foreach (var p in model.Parameters) Fill(p.Value, rng);
        model.Find("m.scale")!.Value.Span.Fill(2f);
        var exec = new Executor(model);
        var x = Randn(new Rng(9), 2, 2, 2, 2);
        var kept = (float[])exec.Forward(x, false, forBackward: true).Data.Clone();
        exec.EndStep();
        for (int rep = 0; rep < 3; rep++)
        {
            Assert.Equal(kept, exec.Forward(x, false, forBackward: false).Data);
            exec.EndStep();
        }
        CheckModel(model, x, DotLoss(3), training: false);
    }

    [Fact]
    public void BackwardWithoutKeptForwardThrows()
    {
        var model = TinyResNet.Build();
        var exec = new Executor(model);
        var y = exec.Forward(TinyResNet.Input(), training: true, forBackward: false, new Rng(1));
        Assert.Throws<InvalidOperationException>(() => exec.Backward(new Tensor(y.Shape)));
        exec.EndStep();
    }

    [Fact]
    public void WrongInputShapeIsAnInputError()
    {
        var exec = new Executor(TinyResNet.Build());
        var e = Assert.Throws<LopperInputException>(() => exec.Forward(new Tensor(2, 3, 5, 6), training: false, forBackward: false));
        Assert.Contains("[2,3,5,6]", e.Message);
        Assert.Throws<LopperInputException>(() => exec.Forward(new Tensor(3, 6, 6), training: false, forBackward: false));
    }

    [Fact]
    public void GradientsAreWrittenNotAccumulatedAcrossSteps()
    {
        var model = TinyResNet.Build();
        var exec = new Executor(model);
        var x = TinyResNet.Input();
        TinyResNet.Step(exec, x);
        var first = model.Parameters.Where(p => p.Trainable).Select(p => (float[])p.Grad!.Data.Clone()).ToArray();
        var stats = model.Parameters.Where(p => !p.Trainable).Select(p => (float[])p.Value.Data.Clone()).ToArray();
        TinyResNet.Step(exec, x);
        var second = model.Parameters.Where(p => p.Trainable).Select(p => p.Grad!.Data).ToArray();
        for (int i = 0; i < first.Length; i++) Assert.Equal(first[i], second[i]);
        // The running statistics moved again (training mode updates them every step).
        Assert.NotEqual(stats[0], model.Parameters.First(p => !p.Trainable).Value.Data);
    }
}

/// <summary>Executor tests that depend on the thread count or read the process-wide buffer pool counters.</summary>
[Collection(SerialGraphCollection.Name)]
public class ExecutorSerialTests
{
    [Fact]
    public void ResidualGraphGradientsWithBatchSplitOverThreads()
    {
        using var _ = new ThreadsScope(2);
        CheckModel(TinyResNet.Build(), TinyResNet.Input(), TinyResNet.CrossEntropy(), eps: 1e-3);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void SteadyStateStepsAllocateNoBuffers(int threads)
    {
        using var _ = new ThreadsScope(threads);
        var model = TinyResNet.Build(withDropout: true, withMaxPool: true);
        var exec = new Executor(model);
        var x = TinyResNet.Input();
        double l1 = TinyResNet.Step(exec, x);
        TinyResNet.Step(exec, x);
        // The miss counter is process-wide, so a test running beside this one can bump it once; a buffer the
        // executor allocates every step would miss in every try, so two clean steps in one of three tries suffice.
        long extra = long.MaxValue;
        for (int attempt = 0; attempt < 3 && extra != 0; attempt++)
        {
            long misses = BufferPool.Misses;
            TinyResNet.Step(exec, x);
            TinyResNet.Step(exec, x);
            extra = BufferPool.Misses - misses;
        }
        Assert.Equal(0, extra);
        Assert.True(double.IsFinite(l1));

        // Inference passes reuse the same buffers too.
        exec.Forward(x, training: false, forBackward: false);
        exec.EndStep();
        long inferenceExtra = long.MaxValue;
        for (int attempt = 0; attempt < 3 && inferenceExtra != 0; attempt++)
        {
            long before = BufferPool.Misses;
            for (int i = 0; i < 2; i++)
            {
                exec.Forward(x, training: false, forBackward: false);
                exec.EndStep();
            }
            inferenceExtra = BufferPool.Misses - before;
        }
        Assert.Equal(0, inferenceExtra);
    }
}
