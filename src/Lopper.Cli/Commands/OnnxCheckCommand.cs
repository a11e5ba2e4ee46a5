using System.CommandLine;
using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Onnx;
using Lopper.Onnx.Runtime;
using Lopper.Tensors;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper onnx-check --from DIR --onnx FILE`: runs a model folder in Lopper and an ONNX file in ONNX Runtime
/// on the same seeded random batch and compares the outputs (largest absolute difference relative to the
/// largest output), so a user can check an import or an export without a dataset. Exit 1 when they differ.
/// </summary>
public static class OnnxCheckCommand
{
    private static readonly Option<string> From = Flags.Required("--from", "DIR", "the model folder (run in Lopper)");
    private static readonly Option<string> Onnx = Flags.Required("--onnx", "FILE", "the ONNX file (run in ONNX Runtime)");
    private static readonly Option<int> Batch = Flags.Int("--batch", "images in the seeded random batch", 2, 1, 1024);
    private static readonly Option<int> Seed = Flags.Int("--seed", "seed of the random batch", 1, 0);
    private static readonly Option<double> Tolerance = Flags.Real("--tolerance", "largest accepted |difference| relative to the largest output (positive)", 1e-4);
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("onnx-check", "compare a model folder in Lopper with an ONNX file in ONNX Runtime (exit 1 when they differ)")
        {
            From, Onnx, Batch, Seed, Tolerance, Threads, Json,
        };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string from = p.GetValue(From)!;
        string onnxPath = p.GetValue(Onnx)!;
        int batch = p.GetValue(Batch);
        int seed = p.GetValue(Seed);
        double tolerance = p.GetValue(Tolerance);
        bool json = p.GetValue(Json);
        CommonOptions.ApplyThreads(p, Threads);
        if (!(tolerance > 0)) throw new LopperInputException($"--tolerance must be positive, got {tolerance}");
        var model = ModelStore.Load(from);
        // Loading validates the file (one clear line for a truncated or malformed one) before ONNX Runtime sees it.
        var proto = OnnxFile.Load(onnxPath);
        CheckInput(proto, model, onnxPath);
        var bytes = Google.Protobuf.MessageExtensions.ToByteArray(proto);
        var x = new Tensor([batch, .. model.Graph.InputShape]);
        var rng = new Rng((ulong)seed);
        for (int i = 0; i < x.Length; i++) x.Data[i] = (float)rng.NextNormal();

        var ex = new Executor(model);
        var lopper = (float[])ex.Forward(x, training: false, forBackward: false).Data.Clone();
        ex.EndStep();
        float[] ort;
        using (var session = new OrtModel(bytes, Parallelism.Threads)) ort = session.Run(x);
        if (ort.Length != lopper.Length)
            throw new LopperInputException($"{onnxPath}: ONNX Runtime gives {ort.Length} outputs for the batch, Lopper {lopper.Length}; the file and the folder are different models");
        double scale = 0, worst = 0;
        foreach (float v in lopper) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < lopper.Length; i++) worst = Math.Max(worst, Math.Abs(lopper[i] - ort[i]));
        double rel = scale > 0 ? worst / scale : worst;
        // Outputs that do not depend on the input (dead activations in a randomly initialised net: every image
        // gets the same logits, often all zero) would match any implementation: not a pass.
        int per = lopper.Length / batch;
        bool degenerate = scale == 0 || (batch > 1 && lopper.AsSpan(0, per).SequenceEqual(lopper.AsSpan(per, per)));
        bool match = rel <= tolerance && !degenerate;
        if (json)
            Console.WriteLine(new JsonObject
            {
                ["from"] = Path.GetFullPath(from), ["onnx"] = Path.GetFullPath(onnxPath), ["batch"] = batch, ["seed"] = seed,
                ["max_abs_diff"] = worst, ["max_abs_output"] = scale, ["degenerate"] = degenerate, ["max_relative_error"] = rel, ["tolerance"] = tolerance, ["match"] = match,
            }.ToJsonString());
        else if (degenerate) Console.WriteLine("INCONCLUSIVE: Lopper's outputs do not depend on the input (all zero or the same for every image), so the comparison proves nothing; try a trained model");
        else Console.WriteLine($"{(match ? "match" : "MISMATCH")}: max relative error {rel:E2} (max |diff| {worst:E2}, batch {batch}, seed {seed}, tolerance {tolerance:E0})");
        return match ? 0 : 1;
    }

    // The file must take the folder's per-image shape, or ONNX Runtime would fail deep inside with its own message.
    private static void CheckInput(Lopper.Onnx.Proto.ModelProto proto, Model model, string path)
    {
        var inits = proto.Graph.Initializer.Select(t => t.Name).ToHashSet();
        var inputs = proto.Graph.Input.Where(v => !inits.Contains(v.Name)).ToList();
        if (inputs.Count != 1) throw new LopperInputException($"{path}: the graph has {inputs.Count} inputs; onnx-check compares single-input classifiers");
        var dims = inputs[0].Type?.TensorType?.Shape?.Dim;
        int[] want = model.Graph.InputShape;
        bool same = dims is not null && dims.Count == want.Length + 1;
        for (int i = 0; same && i < want.Length; i++)
            same = dims![i + 1].ValueCase != Lopper.Onnx.Proto.TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue || dims[i + 1].DimValue == want[i];
        if (!same)
            throw new LopperInputException($"{path}: input '{inputs[0].Name}' has shape [{string.Join(",", dims?.Select(d => d.DimValue.ToString()) ?? [])}], the model folder takes [N,{string.Join(",", want)}]");
    }
}
