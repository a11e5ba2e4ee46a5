using Google.Protobuf;
using Lopper.Graph;
using Lopper.Onnx;
using Lopper.Onnx.Export;
using Lopper.Onnx.Runtime;
using Lopper.Tensors;

namespace Lopper.Tests.Onnx;

/// <summary>The exporter-made fixtures (bench/onnx_fixtures.py) and helpers shared by the ONNX tests.</summary>
internal static class OnnxFixtures
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx");

    public static string File(string name) => Path.Combine(Dir, name + ".onnx");

    /// <summary>A raw little-endian float32 file.</summary>
    public static float[] ReadFloats(string path)
    {
        var bytes = System.IO.File.ReadAllBytes(path);
        var r = new float[bytes.Length / 4];
        for (int i = 0; i < r.Length; i++) r[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
        return r;
    }

    /// <summary>The recorded input batch (2 images) of a fixture.</summary>
    public static Tensor Input(string name, int[] perSample) => new([2, .. perSample], ReadFloats(Path.Combine(Dir, name + ".input.f32")));

    /// <summary>PyTorch's recorded output for it.</summary>
    public static float[] Output(string name) => ReadFloats(Path.Combine(Dir, name + ".output.f32"));

    /// <summary>Lopper's inference output.</summary>
    public static float[] Run(Model model, Tensor x)
    {
        var ex = new Executor(model);
        var y = (float[])ex.Forward(x, training: false, forBackward: false).Data.Clone();
        ex.EndStep();
        return y;
    }

    /// <summary>ONNX Runtime's output for the exported model.</summary>
    public static float[] RunOrt(Model model, Tensor x)
    {
        using var ort = new OrtModel(OnnxExporter.Export(model).ToByteArray(), 2);
        return ort.Run(x);
    }

    /// <summary>Largest |a - b| relative to the largest |expected|.</summary>
    public static double MaxRelativeError(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(v => Math.Abs(v)), worst = 0;
        Assert.True(scale > 0, "expected output is all zero, the comparison would prove nothing");
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]) / scale);
        return worst;
    }
}
