using System.CommandLine;
using Google.Protobuf;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Measurement;
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
    private static readonly Option<string?> Model = Flags.Text("--model", "NAME", "a zoo model", Lopper.Models.ModelZoo.Names);
    private static readonly Option<int[]?> Input = Flags.Shape("--input", "input shape of the zoo model [default: 1x28x28]");
    private static readonly Option<int> Classes = Flags.Int("--classes", "classes of the zoo model", 10, 1, valueName: "K");
    private static readonly Option<string?> From = Flags.Text("--from", "DIR", "a saved model folder (instead of --model)");
    private static readonly Option<int> Batch = Flags.Int("--batch", "images per step", 128, 1, CommonOptions.MaxBatch, "B");
    private static readonly Option<int> Steps = Flags.Int("--steps", "timed training steps, and the least timed inference passes (their median is reported)", 20, 1);
    private static readonly Option<bool> Ort = Flags.Switch("--ort", "also time inference of the same model in ONNX Runtime (exported by Lopper; CPU provider, same threads), pass for pass in alternation with Lopper's, and report lopper/ORT");
    private static readonly Option<bool> Profile = Flags.Switch("--profile", "milliseconds and GFLOP/s per op type and per layer, and the kernel each layer's inference ran (after the timed steps; with --ort also ONNX Runtime's per node)");
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<bool> Json = Flags.Json();
    private static readonly Option<int> Size = Flags.Int("--size", "N x N x N GEMM", 1024, 1);
    private static readonly Option<int[]?> Shape = Flags.Shape("--shape", "a GEMM of this shape instead of --size", "MxNxK");
    private static readonly Option<bool> TransA = Flags.Switch("--trans-a", "A transposed");
    private static readonly Option<bool> TransB = Flags.Switch("--trans-b", "B transposed");
    private static readonly Option<int> Repeats = Flags.Int("--repeats", "timed samples", 10, 1);

    /// <summary>The command: a model's throughput, and the micro-benchmarks as subcommands.</summary>
    public static Command Create()
    {
        var bench = new Command("bench", "training/inference throughput of a model, or a micro-benchmark (GEMM, SNACS estimator, sparse convolution, loader)")
        {
            Model, Input, Classes, From, Batch, Steps, Ort, Profile,
        };
        Threads.Recursive = Json.Recursive = true;
        bench.Options.Add(Threads);
        bench.Options.Add(Json);
        bench.SetAction(p => Measure(p, BenchModel));
        var gemm = new Command("gemm", "GEMM GFLOP/s of Lopper's packed kernel") { Size, Shape, TransA, TransB, Repeats };
        gemm.SetAction(p => Measure(p, BenchGemm));
        bench.Subcommands.Add(gemm);
        bench.Subcommands.Add(SnacsBench.Create(Measure));
        bench.Subcommands.Add(SparseConvBench.Create(Measure));
        bench.Subcommands.Add(LoaderBench.Create(Measure));
        ParseErrors.SubcommandNoun[bench] = "bench";
        return bench;
    }

    // Every benchmark runs on --threads; its result gets the threads and the machine, then goes out as JSON or as lines.
    private static int Measure(ParseResult p, Func<ParseResult, JsonObject> run)
    {
        CommonOptions.ApplyThreads(p, Threads);
        var result = run(p);
        result["threads"] = Parallelism.Threads;
        result["machine"] = RunInfo.Environment(0)["cpu"]!.DeepClone();
        if (p.GetValue(Json)) JsonOutput.Print(result);
        else TextTable.Write(Console.Out, result);
        return 0;
    }

    // Square N x N x N by default; --shape MxNxK with --trans-a/--trans-b measures the shapes convolutions make.
    private static unsafe JsonObject BenchGemm(ParseResult a)
    {
        int n = a.GetValue(Size);
        var shape = a.ValueOrNull(Shape) ?? [n, n, n];
        int m = shape[0], cols = shape[1], k = shape[2];
        CommonOptions.CheckBufferSize(a.Given(Shape) ? "--shape" : "--size", (long)m * k, (long)k * cols, (long)m * cols);
        bool ta = a.GetValue(TransA), tb = a.GetValue(TransB);
        int repeats = a.GetValue(Repeats);
        // Enough back-to-back calls per sample that small shapes are timed over at least ~1 ms.
        int inner = (int)Math.Max(1, 2_000_000L / Math.Max(1L, (long)m * cols * k / 64));
        var rng = new Rng(1);
        var x = new float[m * k]; var y = new float[k * cols]; var z = new float[m * cols];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextNormal();
        for (int i = 0; i < y.Length; i++) y[i] = (float)rng.NextNormal();
        var times = new List<double>();
        fixed (float* pa = x, pb = y, pc = z)
        {
            int lda = ta ? m : k, ldb = tb ? k : cols;
            for (int i = 0; i < 3; i++) Gemm.Multiply(ta, tb, m, cols, k, pa, lda, pb, ldb, pc, cols, false);
            for (int i = 0; i < repeats; i++)
            {
                var sw = Stopwatch.StartNew();
                for (int j = 0; j < inner; j++) Gemm.Multiply(ta, tb, m, cols, k, pa, lda, pb, ldb, pc, cols, false);
                times.Add(sw.Elapsed.TotalSeconds / inner);
            }
        }
        times.Sort();
        double median = times[times.Count / 2];
        return new JsonObject
        {
            ["bench"] = "gemm", ["size"] = n, ["shape"] = $"{m}x{cols}x{k}", ["trans_a"] = ta, ["trans_b"] = tb,
            ["gflops"] = Math.Round(2.0 * m * cols * k / median / 1e9, 2), ["median_ms"] = median * 1000,
        };
    }

    private static JsonObject BenchModel(ParseResult a)
    {
        string? from = a.GetValue(From);
        if (from is not null && (a.Given(Model) || a.Given(Input) || a.Given(Classes))) throw new LopperInputException("--from DIR brings its own model, input and classes; drop --model, --input and --classes");
        string? modelName = a.GetValue(Model);
        if (from is null && modelName is null) throw new LopperInputException("--model is required (or --from DIR, or a micro-benchmark: gemm, snacs-estimator, sparse-conv, loader)");
        var model = from is null ? null : ModelStore.Load(from);
        string name = model?.Graph.Name ?? modelName!;
        var input = model?.Graph.InputShape ?? a.ValueOrNull(Input) ?? [1, 28, 28];
        int classes = model?.Graph.Classes ?? a.GetValue(Classes);
        int batch = a.GetValue(Batch);
        int steps = a.GetValue(Steps);
        bool ort = a.GetValue(Ort);
        model ??= new Model(ModelZoo.Create(name, input, classes), 0);
        var rng = new Rng(0);
        var x = new Tensor([batch, .. input]);
        for (int i = 0; i < x.Length; i++) x.Data[i] = (float)rng.NextNormal();
        var labels = new int[batch];
        for (int i = 0; i < batch; i++) labels[i] = rng.NextInt(classes);
        // Inference runs the deployment form: batch-norm folded into convolutions, ReLU and residual joins fused.
        // Folded (a copy) before the training steps, which would move a saved model's weights and refill the
        // kernel slices its pruning zeroed, so that inference times the model as saved.
        var folded = InferenceFolding.Fold(model);
        byte[]? onnx = ort ? Lopper.Onnx.Export.OnnxExporter.Export(model).ToByteArray() : null;
        var ex = new Executor(model);
        var opt = new Sgd(0.9f);
        var trainable = model.Parameters.Where(p => p.Trainable).ToList();
        // The optimizer step runs outside the executor, so a profile times it separately.
        void TrainStep(Stopwatch? optimizerTime = null)
        {
            var y = ex.Forward(x, training: true, forBackward: true, rng);
            var g = Tensor.Pooled(y.Shape);
            SoftmaxCrossEntropy.Compute(y, labels, 0, g, out _);
            ex.Backward(g);
            ex.EndStep();
            optimizerTime?.Start();
            opt.Step(trainable, 0.01f);
            optimizerTime?.Stop();
        }
        for (int i = 0; i < 3; i++) TrainStep();
        int gc0 = GC.CollectionCount(0);
        long misses = BufferPool.Misses;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) TrainStep();
        double train = batch * steps / sw.Elapsed.TotalSeconds;
        int gcTrain = GC.CollectionCount(0) - gc0;
        double trainPeakMb = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;
        // The pool keeps buffers by exact size, so inference's sub-batch buffers would come on top of training's
        // idle ones and the process peak would no longer be the training peak it is read as.
        BufferPool.Clear();
        GC.Collect();
        // Inference runs the deployment form (folded before the training steps moved the weights, see above), the
        // batch in sub-batches that threads take whole (as `lopper latency` measures it).
        var infer = new SplitBatchInference(folded);
        void InferPass() => infer.Forward(x).Release();
        double inferRate;
        double? ortRate = null, lopperVsOrt = null;
        if (ort)
        {
            // The runtime a .NET user deploys on, on the same model (Lopper's export), batch and threads, timed in
            // alternation with Lopper pass for pass (medians), so a slow spell of a shared machine slows both alike.
            using var session = new Lopper.Onnx.Runtime.OrtModel(onnx!, Parallelism.Threads);
            var pair = Latency.TimePair(InferPass, () => session.Run(x), batch, minPairs: steps);
            inferRate = batch * 1000.0 / pair.First.MedianMs;
            ortRate = batch * 1000.0 / pair.Second.MedianMs;
            lopperVsOrt = 1 / pair.MedianRatio;
        }
        else inferRate = batch * 1000.0 / Latency.Time(InferPass, batch, minRepeats: steps).MedianMs;
        // Profiled steps run after the timed ones so the timestamps never touch the throughput figures.
        JsonArray? profile = null;
        if (a.GetValue(Profile))
        {
            ex.Timings = new OpTimings(model.Graph.Nodes.Count);
            var optSw = new Stopwatch();
            for (int i = 0; i < steps; i++) TrainStep(optSw);
            // Inference is profiled as it runs deployed (sub-batches that threads take whole, frozen weights): each
            // layer's thread-seconds over the thread count, so the layers add up to the wall time. On the session
            // timed above, already warm: a fresh one put its first pass (kernel plans and packing, JIT tiers) into the
            // layers, which on ResNet-20 at 4 steps added a fifth to the dense model's layers and little to a pruned one's.
            infer.Timings = new OpTimings(folded.Graph.Nodes.Count);
            for (int i = 0; i < steps; i++) infer.Forward(x).Release();
            profile = ProfileByOp(model, ex.Timings, folded, infer.Timings, Parallelism.Threads, steps, batch, optSw.Elapsed.TotalSeconds,
                infer.InferenceKernel);
        }
        var result = new JsonObject
        {
            ["model"] = name, ["input"] = new JsonArray(input.Select(d => (JsonNode)d).ToArray()), ["batch"] = batch,
            ["train_img_s"] = Math.Round(train, 1), ["infer_img_s"] = Math.Round(inferRate, 1),
            ["ort_infer_img_s"] = ortRate is double o ? Math.Round(o, 1) : null, ["lopper_vs_ort_infer"] = lopperVsOrt is double r ? Math.Round(r, 3) : null,
            ["gc_gen0_during_train"] = gcTrain, ["pool_misses_during_train"] = BufferPool.Misses - misses,
            ["peak_working_set_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 1),
            ["peak_working_set_training_mb"] = Math.Round(trainPeakMb, 1),
        };
        if (profile is not null) result["profile_ms_per_step"] = profile;
        if (profile is not null && ort)
        {
            // ONNX Runtime's own per-node times on the same batch, to set beside the layers above (its profiler
            // adds a little to every node, as Lopper's does).
            string prefix = Path.Combine(Path.GetTempPath(), $"lopper-ort-profile-{Environment.ProcessId}");
            using var session = new Lopper.Onnx.Runtime.OrtModel(onnx!, Parallelism.Threads, prefix);
            for (int i = 0; i < steps; i++) session.Run(x);
            var nodes = new JsonArray();
            foreach (var (node, op, ms) in session.NodeProfile())
                nodes.Add(new JsonObject { ["node"] = node, ["op"] = op, ["infer_forward"] = Math.Round(ms, 3) });
            result["ort_profile_ms_per_step"] = nodes;
        }
        return result;
    }

    // Milliseconds per step by op type: training forward, training backward, folded inference forward.
    // Inference times are thread-seconds of inferThreads threads working side by side: divided by it, they add up to wall time.
    // kernelOf(k) names what inference node k ran on (a pruned layer's tap lists, say), or null.
    private static JsonArray ProfileByOp(Model train, OpTimings t, Model infer, OpTimings ti, int inferThreads, int steps, int batch, double optimizerSeconds, Func<int, string?> kernelOf)
    {
        var rows = new SortedDictionary<string, double[]>(StringComparer.Ordinal);
        double[] Row(string type) => rows.TryGetValue(type, out var r) ? r : rows[type] = new double[3];
        for (int i = 1; i < train.Graph.Nodes.Count; i++)
        {
            var r = Row(train.Graph.Nodes[i].Op.Type);
            r[0] += t.ForwardSeconds(i);
            r[1] += t.BackwardSeconds(i);
        }
        for (int i = 1; i < infer.Graph.Nodes.Count; i++) Row(infer.Graph.Nodes[i].Op.Type)[2] += ti.ForwardSeconds(i) / inferThreads;
        Row("(optimizer step)")[1] += optimizerSeconds;
        var list = new JsonArray();
        foreach (var (type, r) in rows.OrderByDescending(kv => kv.Value[0] + kv.Value[1]))
            list.Add(new JsonObject
            {
                ["op"] = type, ["train_forward"] = Math.Round(r[0] * 1000 / steps, 3),
                ["train_backward"] = Math.Round(r[1] * 1000 / steps, 3), ["infer_forward"] = Math.Round(r[2] * 1000 / steps, 3),
            });
        // Plus every MAC-heavy node on its own, with its GEMM-equivalent rate (2 FLOPs per MAC; backward does twice the work).
        var shapes = train.Graph.Nodes.Select(nd => nd.OutputShape).ToArray();
        for (int i = 1; i < train.Graph.Nodes.Count; i++)
        {
            var node = train.Graph.Nodes[i];
            // Graph shapes are for one image; the profiled steps ran a whole batch.
            long macs = node.Op.Macs(node.InputIndices.Select(j => shapes[j]).ToArray()) * batch;
            if (macs == 0) continue;
            double f = t.ForwardSeconds(i) / steps, b = t.BackwardSeconds(i) / steps;
            // The folded inference graph keeps convolution and linear node names.
            int k = infer.Graph.IndexOf(node.Name);
            double fi = k > 0 ? ti.ForwardSeconds(k) / inferThreads / steps : double.NaN;
            list.Add(new JsonObject
            {
                ["node"] = node.Name, ["op"] = node.Op.Type, ["train_forward"] = Math.Round(f * 1000, 3), ["train_backward"] = Math.Round(b * 1000, 3),
                ["forward_gflops"] = Rate(2.0 * macs, f), ["backward_gflops"] = Rate(4.0 * macs, b),
                ["infer_forward"] = k > 0 ? Math.Round(fi * 1000, 3) : null, ["infer_gflops"] = k > 0 ? Rate(2.0 * macs, fi) : null,
                ["infer_kernel"] = k > 0 ? kernelOf(k) : null,
            });
        }
        return list;
    }

    // GFLOP/s, or null for a layer too quick for the clock to see (JSON has no infinity).
    private static double? Rate(double flops, double seconds) => seconds > 0 ? Math.Round(flops / seconds / 1e9, 1) : null;
}
