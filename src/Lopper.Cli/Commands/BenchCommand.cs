using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Models;
using Lopper.Optim;
using Lopper.Tensors;
using Lopper.Tensors.Kernels;
using Lopper.Training;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper bench`: throughput of training steps (forward + backward + SGD step) and inference on random
/// data, the same measurement as the PyTorch peer script; `lopper bench gemm`: GEMM GFLOP/s.
/// </summary>
public static class BenchCommand
{
    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "json", "help" });
        if (a.Flag("help"))
        {
            Console.WriteLine("lopper bench --model NAME [--input CxHxW] [--classes K] [--batch B] [--steps N] [--threads T] [--json]\nlopper bench gemm --size N [--threads T] [--json]\n" + SnacsBench.Usage + "\n" + SparseConvBench.Usage);
            return 0;
        }
        bool json = a.Flag("json");
        CommonOptions.ApplyThreads(a);
        string? sub = a.Positional.Count > 0 ? a.Positional[0] : null;
        JsonObject result = sub switch
        {
            "gemm" => BenchGemm(a),
            "snacs-estimator" => SnacsBench.Run(a),
            "sparse-conv" => SparseConvBench.Run(a),
            null => BenchModel(a),
            _ => throw new LopperInputException($"unknown bench '{sub}' (gemm, snacs-estimator, sparse-conv, or none with --model)"),
        };
        a.EnsureAllUsed(positionalAllowed: 1);
        result["threads"] = Parallelism.Threads;
        result["machine"] = RunInfo.Environment(0)["cpu"]!.DeepClone();
        if (json) Console.WriteLine(result.ToJsonString());
        else foreach (var (k, v) in result) Console.WriteLine($"{k}: {v}");
        return 0;
    }

    private static unsafe JsonObject BenchGemm(Args a)
    {
        int n = a.Int("size", 1024, 1);
        int repeats = a.Int("repeats", 10, 1);
        var rng = new Rng(1);
        var x = new float[n * n]; var y = new float[n * n]; var z = new float[n * n];
        for (int i = 0; i < x.Length; i++) { x[i] = (float)rng.NextNormal(); y[i] = (float)rng.NextNormal(); }
        var times = new List<double>();
        fixed (float* pa = x, pb = y, pc = z)
        {
            for (int i = 0; i < 3; i++) Gemm.Multiply(false, false, n, n, n, pa, n, pb, n, pc, n, false);
            for (int i = 0; i < repeats; i++)
            {
                var sw = Stopwatch.StartNew();
                Gemm.Multiply(false, false, n, n, n, pa, n, pb, n, pc, n, false);
                times.Add(sw.Elapsed.TotalSeconds);
            }
        }
        times.Sort();
        double median = times[times.Count / 2];
        return new JsonObject { ["bench"] = "gemm", ["size"] = n, ["gflops"] = Math.Round(2.0 * n * n * n / median / 1e9, 2), ["median_ms"] = median * 1000 };
    }

    private static JsonObject BenchModel(Args a)
    {
        string name = a.Required("model");
        var input = a.Shape("input") ?? [1, 28, 28];
        int classes = a.Int("classes", 10, 1);
        int batch = a.Int("batch", 128, 1);
        int steps = a.Int("steps", 20, 1);
        var model = new Model(ModelZoo.Create(name, input, classes), 0);
        var rng = new Rng(0);
        var x = new Tensor([batch, .. input]);
        for (int i = 0; i < x.Length; i++) x.Data[i] = (float)rng.NextNormal();
        var labels = new int[batch];
        for (int i = 0; i < batch; i++) labels[i] = rng.NextInt(classes);
        var ex = new Executor(model);
        var opt = new Sgd(0.9f);
        var trainable = model.Parameters.Where(p => p.Trainable).ToList();
        void TrainStep()
        {
            var y = ex.Forward(x, training: true, forBackward: true, rng);
            var g = Tensor.Pooled(y.Shape);
            SoftmaxCrossEntropy.Compute(y, labels, 0, g, out _);
            ex.Backward(g);
            ex.EndStep();
            opt.Step(trainable, 0.01f);
        }
        for (int i = 0; i < 3; i++) TrainStep();
        int gc0 = GC.CollectionCount(0);
        long misses = BufferPool.Misses;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) TrainStep();
        double train = batch * steps / sw.Elapsed.TotalSeconds;
        int gcTrain = GC.CollectionCount(0) - gc0;
        // Inference runs the deployment form: batch-norm folded into convolutions, ReLU fused.
        var inferEx = new Executor(InferenceFolding.Fold(model));
        for (int i = 0; i < 3; i++) { inferEx.Forward(x, training: false, forBackward: false); inferEx.EndStep(); }
        sw.Restart();
        for (int i = 0; i < steps; i++) { inferEx.Forward(x, training: false, forBackward: false); inferEx.EndStep(); }
        double infer = batch * steps / sw.Elapsed.TotalSeconds;
        return new JsonObject
        {
            ["model"] = name, ["input"] = new JsonArray(input.Select(d => (JsonNode)d).ToArray()), ["batch"] = batch,
            ["train_img_s"] = Math.Round(train, 1), ["infer_img_s"] = Math.Round(infer, 1),
            ["gc_gen0_during_train"] = gcTrain, ["pool_misses_during_train"] = BufferPool.Misses - misses,
            ["peak_working_set_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
        };
    }
}
