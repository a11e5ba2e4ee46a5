using Lopper.Measurement;
using Lopper.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace Lopper.Onnx.Runtime;

/// <summary>
/// An ONNX model loaded in ONNX Runtime's CPU provider: Lopper's independent referee for outputs and the
/// runtime a user deploys on for latency. Kept in its own assembly so the importer and exporter stay
/// managed-only and the native runtime loads only where it is used.
/// </summary>
public sealed class OrtModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input, _output;

    /// <summary>Loads a serialized model with all graph optimizations and <paramref name="threads"/> intra-op threads.</summary>
    public OrtModel(byte[] onnx, int threads)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        // Spinning worker threads burn the cores Lopper's own timing (and any neighbour) needs; block instead.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        try
        {
            _session = new InferenceSession(onnx, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new LopperInputException($"ONNX Runtime refused the model: {e.Message.Split('\n')[0]}");
        }
        _input = _session.InputMetadata.Keys.Single();
        _output = _session.OutputMetadata.Keys.First();
    }

    /// <summary>Runs one batch and returns the output values (row-major).</summary>
    public float[] Run(Tensor input)
    {
        var shape = input.Shape.Select(d => (long)d).ToArray();
        using var x = OrtValue.CreateTensorValueFromMemory(input.Data, shape);
        using var run = new RunOptions();
        using var outputs = _session.Run(run, [_input], [x], [_output]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Latency of one batch of <paramref name="batch"/> seeded normal images of shape <paramref name="perSample"/> (same statistics as <see cref="Latency.Measure"/>).</summary>
    public LatencyResult Measure(int[] perSample, int batch, int minRepeats = 10, double minSeconds = 1.0)
    {
        var input = new Tensor([batch, .. perSample]);
        var rng = new Rng(1);
        for (int i = 0; i < input.Length; i++) input.Data[i] = (float)rng.NextNormal();
        var shape = input.Shape.Select(d => (long)d).ToArray();
        using var x = OrtValue.CreateTensorValueFromMemory(input.Data, shape);
        using var run = new RunOptions();
        var names = new[] { _input };
        var values = new[] { x };
        var outNames = new[] { _output };
        return Latency.Time(() => { using var o = _session.Run(run, names, values, outNames); }, batch, minRepeats: minRepeats, minSeconds: minSeconds);
    }

    /// <inheritdoc/>
    public void Dispose() => _session.Dispose();
}
