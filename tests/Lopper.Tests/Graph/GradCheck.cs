using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Tensors;

namespace Lopper.Tests.Graph;

/// <summary>
/// Tests that touch process-wide state (<see cref="Parallelism.Threads"/>, <see cref="BufferPool.Misses"/>)
/// run in this collection, which xunit runs on its own after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialGraphCollection
{
    public const string Name = "Graph serial (threads, buffer pool)";
}

/// <summary>Sets <see cref="Parallelism.Threads"/> for a scope and restores it.</summary>
internal sealed class ThreadsScope : IDisposable
{
    private readonly int _saved = Parallelism.Threads;

    public ThreadsScope(int threads) => Parallelism.Threads = threads;

    public void Dispose() => Parallelism.Threads = _saved;
}

/// <summary>
/// Test-only op: y = x + value, with <c>value</c> a trainable parameter of the full batch shape. Placed
/// right after the graph input (zeros), its gradient is exactly the gradient with respect to the input
/// of the op after it, which the executor otherwise never computes (node 0 gets no gradient).
/// </summary>
internal sealed class ShiftOp(int[] fullShape) : Op
{
    public override string Type => "test_shift";
    public override ChannelMap MapChannels(int input, IReadOnlyList<int[]> inputs) => ChannelMap.PassThrough(inputs[0][1]);
    public override int[] OutputShape(IReadOnlyList<int[]> inputs) => inputs[0];
    public override IReadOnlyList<ParamSpec> Parameters(IReadOnlyList<int[]> inputs) => [new("value", fullShape, ParamInit.Zeros, true, -1, -1)];

    public override Tensor Forward(Tensor[] inputs, Tensor[] parameters, NodeState state)
    {
        var x = inputs[0];
        var p = parameters[0];
        Assert.Equal(p.Length, x.Length);
        var y = Tensor.Pooled(x.Shape);
        for (int i = 0; i < y.Length; i++) y.Data[i] = x.Data[i] + p.Data[i];
        return y;
    }

    public override Tensor?[] Backward(Tensor gradOut, Tensor[] inputs, Tensor output, Tensor[] parameters, Tensor?[] paramGrads, NodeState state)
    {
        if (paramGrads[0] is { } g) gradOut.Span.CopyTo(g.Span);
        return [state.NeedsInputGrad[0] ? gradOut : null];
    }

    public override JsonObject Attributes() => new();
}

/// <summary>Analytic gradients from one op-level backward pass.</summary>
internal sealed record OpGrads(float[] Output, float[] GradOutput, float[]?[] InputGrads, float[]?[] ParamGrads);

/// <summary>Central finite-difference gradient checks, computed on float32 forward passes.</summary>
internal static class GradCheck
{
    public const double Rel = 2e-2, Abs = 1e-3;

    public static Tensor Randn(Rng rng, params int[] shape)
    {
        var t = new Tensor(shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = (float)rng.NextNormal();
        return t;
    }

    /// <summary>N(0,1) values with |v| at least <paramref name="min"/> (away from a ReLU kink).</summary>
    public static Tensor RandnAwayFromZero(Rng rng, double min, params int[] shape)
    {
        var t = new Tensor(shape);
        for (int i = 0; i < t.Length; i++)
        {
            double v;
            do v = rng.NextNormal(); while (Math.Abs(v) < min);
            t.Data[i] = (float)v;
        }
        return t;
    }

    /// <summary>Distinct values spaced <paramref name="spacing"/> apart, in random order (stable arg-max).</summary>
    public static Tensor Distinct(Rng rng, float spacing, params int[] shape)
    {
        var t = new Tensor(shape);
        var order = Enumerable.Range(0, t.Length).ToArray();
        rng.Shuffle(order);
        for (int i = 0; i < t.Length; i++) t.Data[i] = (order[i] - t.Length / 2f) * spacing;
        return t;
    }

    public static void Fill(Tensor t, Rng rng)
    {
        for (int i = 0; i < t.Length; i++) t.Data[i] = (float)rng.NextNormal();
    }

    public static double Dot(Tensor y, Tensor r)
    {
        Assert.Equal(r.Length, y.Length);
        double s = 0;
        for (int i = 0; i < y.Length; i++) s += (double)y.Data[i] * r.Data[i];
        return s;
    }

    public static void AssertClose(double analytic, double numeric, string what)
    {
        double tol = Rel * Math.Max(Math.Abs(analytic), Math.Abs(numeric)) + Abs;
        if (!(Math.Abs(analytic - numeric) <= tol))
            Assert.Fail($"{what}: analytic {analytic:G7} vs finite difference {numeric:G7} (tolerance {tol:G3})");
    }

    /// <summary>Central difference of <paramref name="loss"/> with respect to element <paramref name="i"/> of <paramref name="t"/>.</summary>
    public static double Numeric(float[] t, int i, double eps, Func<double> loss)
    {
        float v = t[i];
        float up = (float)(v + eps), down = (float)(v - eps);
        t[i] = up;
        double lp = loss();
        t[i] = down;
        double lm = loss();
        t[i] = v;
        return (lp - lm) / ((double)up - down);
    }

    /// <summary>
    /// Runs <paramref name="op"/> forward and backward on its own with loss = sum(output * R) for a random R,
    /// then checks the gradient of every input element (inputs that are the same tensor add up) and of every
    /// trainable parameter against central differences. Non-trainable parameters are restored before every
    /// forward (batch-norm updates its running statistics); stochastic ops get a fresh Rng(<paramref name="seed"/>).
    /// Parameter gradient buffers start out as garbage, so a backward that adds instead of writing fails.
    /// </summary>
    public static OpGrads CheckOp(Op op, Tensor[] inputs, Tensor[] parameters, bool[] trainable,
        bool training = true, double eps = 1e-2, ulong seed = 7, bool[]? needsInputGrad = null, bool checkNumeric = true)
    {
        Assert.Equal(parameters.Length, trainable.Length);
        needsInputGrad ??= Enumerable.Repeat(true, inputs.Length).ToArray();
        var snapshot = parameters.Select(p => p.Clone()).ToArray();

        (Tensor Y, NodeState State) Run(bool willBackward)
        {
            for (int j = 0; j < parameters.Length; j++)
                if (!trainable[j]) snapshot[j].Span.CopyTo(parameters[j].Span);
            var st = new NodeState { Training = training, WillBackward = willBackward, NeedsInputGrad = needsInputGrad, Random = new Rng(seed) };
            var y = op.Forward(inputs, parameters, st);
            Assert.Equal(op.OutputShape(inputs.Select(t => t.Shape).ToArray()), y.Shape);
            return (y, st);
        }

        var (y, st) = Run(true);
        var r = Randn(new Rng(seed * 31 + 5), y.Shape);
        var output = (float[])y.Data.Clone();
        var gradOut = Tensor.Pooled(y.Shape);
        r.Span.CopyTo(gradOut.Span);
        var paramGrads = new Tensor?[parameters.Length];
        for (int j = 0; j < parameters.Length; j++)
            if (trainable[j])
            {
                paramGrads[j] = new Tensor((int[])parameters[j].Shape.Clone());
                paramGrads[j]!.Span.Fill(1234.5f);
            }
        var grads = op.Backward(gradOut, inputs, y, parameters, paramGrads, st);
        Assert.Equal(inputs.Length, grads.Length);
        var inputGrads = new float[]?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!needsInputGrad[i]) { Assert.Null(grads[i]); continue; }
            Assert.NotNull(grads[i]);
            Assert.Equal(inputs[i].Shape, grads[i]!.Shape);
            inputGrads[i] = (float[])grads[i]!.Data.Clone();
        }
        var pg = paramGrads.Select(g => g is null ? null : (float[])g.Data.Clone()).ToArray();
        st.Clear();
        if (!op.OutputAliasesInput) y.Release();

        if (checkNumeric)
        {
            double Loss()
            {
                var (y2, st2) = Run(false);
                double l = Dot(y2, r);
                st2.Clear();
                if (!op.OutputAliasesInput) y2.Release();
                return l;
            }

            // Inputs, grouped by tensor identity (x + x passes the same tensor twice).
            var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
            for (int i = 0; i < inputs.Length; i++)
            {
                if (!seen.Add(inputs[i])) continue;
                var positions = Enumerable.Range(0, inputs.Length).Where(k => ReferenceEquals(inputs[k], inputs[i]) && needsInputGrad[k]).ToArray();
                if (positions.Length == 0) continue;
                var data = inputs[i].Data;
                for (int e = 0; e < data.Length; e++)
                {
                    double analytic = positions.Sum(k => (double)inputGrads[k]![e]);
                    AssertClose(analytic, Numeric(data, e, eps, Loss), $"{op.Type} input {i} element {e}");
                }
            }
            for (int j = 0; j < parameters.Length; j++)
            {
                if (!trainable[j]) continue;
                var data = parameters[j].Data;
                for (int e = 0; e < data.Length; e++)
                    AssertClose(pg[j]![e], Numeric(data, e, eps, Loss), $"{op.Type} parameter {j} element {e}");
            }
        }
        for (int j = 0; j < parameters.Length; j++)
            if (!trainable[j]) snapshot[j].Span.CopyTo(parameters[j].Span);
        return new OpGrads(output, (float[])r.Data.Clone(), inputGrads, pg);
    }

    /// <summary>Loss = sum(output * R) for a fixed random R, as the executor-level checks use it.</summary>
    public static Func<Tensor, Tensor?, double> DotLoss(ulong seed)
    {
        Tensor? r = null;
        return (y, grad) =>
        {
            r ??= Randn(new Rng(seed), (int[])y.Shape.Clone());
            if (grad is not null) r.Span.CopyTo(grad.Span);
            return Dot(y, r);
        };
    }

    /// <summary>
    /// Builds input (per-sample shape of <paramref name="batchShape"/>) -> one <see cref="ShiftOp"/> per source
    /// -> whatever <paramref name="build"/> appends (given the builder and the source names). The input fed is
    /// zeros, so the sources output their (trainable, N(0,1)) shift values; every other trainable parameter is
    /// N(0,1) too.
    /// </summary>
    public static (Model Model, Tensor Input) SingleOp(int[] batchShape, int sources, Action<GraphBuilder, string[]> build, ulong seed = 11)
    {
        var b = new GraphBuilder(batchShape[1..]);
        var names = new string[sources];
        for (int i = 0; i < sources; i++) names[i] = b.Add($"src{i}", new ShiftOp(batchShape), b.Input);
        build(b, names);
        var model = new Model(b.Build("single-op"), seed);
        var rng = new Rng(seed + 1);
        foreach (var p in model.Parameters)
            if (p.Trainable) Fill(p.Value, rng);
        return (model, new Tensor(batchShape));
    }

    /// <summary>
    /// Runs one executor step (training forward kept for backward, loss gradient, backward) and checks every
    /// trainable parameter's gradient against central differences from re-running the forward. Non-trainable
    /// parameters (running statistics) are restored before each forward; every forward gets a fresh Rng(<paramref name="seed"/>).
    /// Returns the analytic gradients by parameter name.
    /// </summary>
    public static Dictionary<string, float[]> CheckModel(Model model, Tensor input, Func<Tensor, Tensor?, double> loss,
        bool training = true, double eps = 1e-2, ulong seed = 3, Func<Parameter, bool>? which = null)
    {
        var exec = new Executor(model);
        var fixedParams = model.Parameters.Where(p => !p.Trainable).ToArray();
        var snapshot = fixedParams.Select(p => p.Value.Clone()).ToArray();
        void Restore()
        {
            for (int j = 0; j < fixedParams.Length; j++) snapshot[j].Span.CopyTo(fixedParams[j].Value.Span);
        }

        foreach (var p in model.Parameters) p.Grad?.Span.Fill(-777f);
        Restore();
        var y = exec.Forward(input, training, forBackward: true, new Rng(seed));
        var grad = Tensor.Pooled(y.Shape);
        loss(y, grad);
        exec.Backward(grad);
        var analytic = model.Parameters.Where(p => p.Trainable).ToDictionary(p => p.Name, p => (float[])p.Grad!.Data.Clone());
        exec.EndStep();

        double Loss()
        {
            Restore();
            var y2 = exec.Forward(input, training, forBackward: false, new Rng(seed));
            double l = loss(y2, null);
            exec.EndStep();
            return l;
        }

        foreach (var p in model.Parameters)
        {
            if (!p.Trainable || (which is not null && !which(p))) continue;
            var data = p.Value.Data;
            for (int e = 0; e < data.Length; e++)
                AssertClose(analytic[p.Name][e], Numeric(data, e, eps, Loss), $"{p.Name}[{e}]");
        }
        Restore();
        return analytic;
    }
}
