using Lopper.Data;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;
using Lopper.Training;

namespace Lopper.Pruning.Directional;

/// <summary>Loss and accuracy at one point of a path between two models.</summary>
/// <param name="T">Position on the path: 0 is the first model, 1 the second.</param>
/// <param name="Loss">Mean cross-entropy over the data.</param>
/// <param name="Accuracy">Top-1 accuracy (a fraction).</param>
/// <param name="Distance">L2 distance of this point's trainable values from the previous point's (0 at the first point); their sum is the path length.</param>
public sealed record PathPoint(double T, double Loss, double Accuracy, double Distance);

/// <summary>
/// Whether two minima (e.g. SGD and gRDA trained from the same initialisation) lie in one low-loss
/// valley: the loss along the straight line between them, or along a quadratic Bezier curve through
/// a bend point. The models must share one graph.
/// </summary>
public static class LossPath
{
    /// <summary>
    /// A model whose every parameter is Σ_k weights[k]·models[k] (running statistics included; see
    /// <see cref="Evaluate"/> for re-estimating them instead).
    /// </summary>
    public static Model Combine(IReadOnlyList<Model> models, IReadOnlyList<double> weights)
    {
        if (models.Count == 0 || models.Count != weights.Count) throw new ArgumentException("need one weight per model");
        var first = models[0];
        foreach (var m in models.Skip(1)) CheckSameGraph(first, m);
        var result = new Model(first.Graph);
        foreach (var p in result.Parameters)
        {
            var dst = p.Value.Span;
            var acc = new double[dst.Length];
            for (int k = 0; k < models.Count; k++)
            {
                var src = models[k].Find(p.Name)!.Value.Span;
                double w = weights[k];
                for (int i = 0; i < acc.Length; i++) acc[i] += w * src[i];
            }
            for (int i = 0; i < acc.Length; i++) dst[i] = (float)acc[i];
        }
        return result;
    }

    /// <summary>(1 − t)·a + t·b.</summary>
    public static Model Line(Model a, Model b, double t) => Combine([a, b], [1 - t, t]);

    /// <summary>Quadratic Bezier (1 − t)²·a + 2t(1 − t)·bend + t²·b (the paper's connectivity curve).</summary>
    public static Model Bezier(Model a, Model bend, Model b, double t) => Combine([a, bend, b], [(1 - t) * (1 - t), 2 * t * (1 - t), t * t]);

    /// <summary>
    /// Evaluates <paramref name="pointAt"/>(t) at <paramref name="points"/> equally spaced t in [0, 1] on
    /// <paramref name="data"/> (use a loader without augmentation: the figures report training loss).
    /// With <paramref name="bnBatches"/> &gt; 0 each point's batch-norm running statistics are reset and
    /// re-estimated as the plain average over that many training-mode batches of <paramref name="bnData"/>,
    /// because averaged statistics do not match averaged weights.
    /// </summary>
    public static IReadOnlyList<PathPoint> Evaluate(Func<double, Model> pointAt, DataLoader data, int points = 61, DataLoader? bnData = null, int bnBatches = 0, ulong seed = 0)
    {
        if (points < 2) throw new LopperInputException($"a path needs at least 2 points, got {points}");
        if (bnBatches > 0 && bnData is null) throw new ArgumentException("bnBatches needs bnData");
        var result = new List<PathPoint>();
        Model? previous = null;
        for (int i = 0; i < points; i++)
        {
            double t = (double)i / (points - 1);
            var model = pointAt(t);
            if (bnBatches > 0) BatchNormRecalibration.Run(model, bnData!, bnBatches, seed);
            var (loss, acc) = Evaluator.Evaluate(model, data);
            result.Add(new PathPoint(t, loss, acc, previous is null ? 0 : Distance(previous, model)));
            previous = model;
        }
        return result;
    }

    /// <summary>Loss along the straight line from <paramref name="a"/> (t = 0) to <paramref name="b"/> (t = 1).</summary>
    public static IReadOnlyList<PathPoint> AlongLine(Model a, Model b, DataLoader data, int points = 61, DataLoader? bnData = null, int bnBatches = 0, ulong seed = 0)
    {
        CheckSameGraph(a, b);
        return Evaluate(t => Line(a, b, t), data, points, bnData, bnBatches, seed);
    }

    /// <summary>L2 distance between the trainable values of two models with the same graph.</summary>
    public static double Distance(Model a, Model b)
    {
        CheckSameGraph(a, b);
        double sum = 0;
        foreach (var p in a.Parameters)
        {
            if (!p.Trainable) continue;
            var x = p.Value.Span;
            var y = b.Find(p.Name)!.Value.Span;
            for (int i = 0; i < x.Length; i++) { double d = (double)x[i] - y[i]; sum += d * d; }
        }
        return Math.Sqrt(sum);
    }

    private static void CheckSameGraph(Model a, Model b)
    {
        if (a.Parameters.Count != b.Parameters.Count) throw new LopperInputException($"models '{a.Graph.Name}' and '{b.Graph.Name}' have different graphs ({a.Parameters.Count} vs {b.Parameters.Count} parameter tensors)");
        foreach (var p in a.Parameters)
        {
            var q = b.Find(p.Name) ?? throw new LopperInputException($"model '{b.Graph.Name}' has no tensor '{p.Name}'; a path needs two models with the same graph");
            if (!q.Spec.Shape.AsSpan().SequenceEqual(p.Spec.Shape))
                throw new LopperInputException($"tensor '{p.Name}' has shape {Tensor.Format(p.Spec.Shape)} in one model and {Tensor.Format(q.Spec.Shape)} in the other; a path needs two models with the same graph");
        }
    }
}
