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

    /// <summary>
    /// Loads a serialized model with all graph optimizations and <paramref name="threads"/> intra-op threads. With
    /// <paramref name="profilePrefix"/> ONNX Runtime records every node's time to a JSON file of that prefix
    /// (see <see cref="NodeProfile"/>); leave it off when timing.
    /// </summary>
    public OrtModel(byte[] onnx, int threads, string? profilePrefix = null)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        if (profilePrefix is not null)
        {
            options.EnableProfiling = true;
            options.ProfileOutputPathPrefix = profilePrefix;
        }
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

    /// <summary>
    /// Ends the profiling started by the constructor's profile prefix and returns each node's mean milliseconds per
    /// run, in the order ONNX Runtime first ran them, under its names (its fused nodes take the name of the last
    /// node they absorbed, with a suffix such as <c>_nchwc</c> for its blocked layout). The profile file is deleted.
    /// </summary>
    public IReadOnlyList<(string Node, string Op, double Ms)> NodeProfile()
    {
        string path = _session.EndProfiling();
        var order = new List<string>();
        var sums = new Dictionary<string, (double Us, int Runs, string Op)>();
        using (var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path)))
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.GetProperty("cat").GetString() != "Node") continue;
                string name = e.GetProperty("name").GetString()!;
                const string suffix = "_kernel_time";
                if (!name.EndsWith(suffix, StringComparison.Ordinal)) continue;
                string node = name[..^suffix.Length];
                string op = e.TryGetProperty("args", out var args) && args.TryGetProperty("op_name", out var o) ? o.GetString() ?? "" : "";
                if (!sums.TryGetValue(node, out var cur)) order.Add(node);
                sums[node] = (cur.Us + e.GetProperty("dur").GetDouble(), cur.Runs + 1, op);
            }
        File.Delete(path);
        return order.Select(n => (n, sums[n].Op, sums[n].Us / sums[n].Runs / 1000)).ToList();
    }

    /// <inheritdoc/>
    public void Dispose() => _session.Dispose();
}
