using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Lopper.Onnx.Proto;
using Lopper.Tensors;
using DataType = Lopper.Onnx.Proto.TensorProto.Types.DataType;

namespace Lopper.Onnx;

/// <summary>
/// Decodes and encodes ONNX tensors. Every size is checked against the tensor's dims and a total budget
/// before anything is allocated, so a file whose dims claim more than its bytes hold fails with one line.
/// </summary>
public static class OnnxTensors
{
    /// <summary>Most elements one imported tensor may have (2^31 - 1 is the limit of a .NET array anyway).</summary>
    public const long MaxElements = 1L << 30;

    /// <summary>Element count of <paramref name="dims"/>, failing on negative dims or products over <see cref="MaxElements"/>.</summary>
    public static long Count(IReadOnlyList<long> dims, string what)
    {
        long n = 1;
        foreach (long d in dims)
        {
            if (d < 0) throw new LopperInputException($"{what}: negative dimension {d}");
            if (d > MaxElements) throw new LopperInputException($"{what}: dimension {d} exceeds {MaxElements}");
            if (d > 0 && n > MaxElements / d) throw new LopperInputException($"{what}: dims [{string.Join(",", dims)}] exceed {MaxElements} elements");
            n *= d;
        }
        return n;
    }

    /// <summary>Reads a float32 tensor (raw_data or float_data) as a Lopper tensor with the same dims.</summary>
    public static Tensor Float(TensorProto t, string what)
    {
        if (t.DataType != (int)DataType.Float)
            throw new LopperInputException($"{what}: data type {Name(t.DataType)} is not supported (Lopper imports float32 weights only; convert the model to float32)");
        CheckLocation(t, what);
        long n = Count(t.Dims, what);
        var shape = new int[t.Dims.Count];
        for (int i = 0; i < shape.Length; i++) shape[i] = (int)t.Dims[i];
        if (!t.RawData.IsEmpty)
        {
            if (t.RawData.Length != n * 4) throw new LopperInputException($"{what}: raw_data holds {t.RawData.Length} bytes, dims [{string.Join(",", t.Dims)}] need {n * 4}");
            var data = new float[n];
            var src = t.RawData.Span;
            if (BitConverter.IsLittleEndian) MemoryMarshal.Cast<byte, float>(src).CopyTo(data);
            else for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(i * 4)..]);
            return new Tensor(shape, data);
        }
        if (t.FloatData.Count != n) throw new LopperInputException($"{what}: float_data holds {t.FloatData.Count} values, dims [{string.Join(",", t.Dims)}] need {n}");
        return new Tensor(shape, t.FloatData.ToArray());
    }

    /// <summary>Reads an integer tensor (int64 or int32, raw or typed) as longs; used for shapes, axes and indices.</summary>
    public static long[] Int64(TensorProto t, string what)
    {
        CheckLocation(t, what);
        long n = Count(t.Dims, what);
        if (n > 1 << 20) throw new LopperInputException($"{what}: an integer tensor of {n} elements is not a shape constant");
        var r = new long[n];
        if (t.DataType == (int)DataType.Int64)
        {
            if (!t.RawData.IsEmpty)
            {
                if (t.RawData.Length != n * 8) throw new LopperInputException($"{what}: raw_data holds {t.RawData.Length} bytes, dims need {n * 8}");
                for (int i = 0; i < n; i++) r[i] = BinaryPrimitives.ReadInt64LittleEndian(t.RawData.Span[(i * 8)..]);
            }
            else
            {
                if (t.Int64Data.Count != n) throw new LopperInputException($"{what}: int64_data holds {t.Int64Data.Count} values, dims need {n}");
                t.Int64Data.CopyTo(r, 0);
            }
            return r;
        }
        if (t.DataType == (int)DataType.Int32)
        {
            if (!t.RawData.IsEmpty)
            {
                if (t.RawData.Length != n * 4) throw new LopperInputException($"{what}: raw_data holds {t.RawData.Length} bytes, dims need {n * 4}");
                for (int i = 0; i < n; i++) r[i] = BinaryPrimitives.ReadInt32LittleEndian(t.RawData.Span[(i * 4)..]);
            }
            else
            {
                if (t.Int32Data.Count != n) throw new LopperInputException($"{what}: int32_data holds {t.Int32Data.Count} values, dims need {n}");
                for (int i = 0; i < n; i++) r[i] = t.Int32Data[i];
            }
            return r;
        }
        throw new LopperInputException($"{what}: expected an int64 tensor, got {Name(t.DataType)}");
    }

    private static void CheckLocation(TensorProto t, string what)
    {
        if (t.DataLocation != 0 || t.ExternalData.Count > 0)
            throw new LopperInputException($"{what}: weights stored in an external file are not supported (re-export with the weights inside the .onnx file)");
    }

    /// <summary>A float32 initializer with the given name, dims and values (raw little-endian bytes).</summary>
    public static TensorProto FromFloats(string name, ReadOnlySpan<long> dims, ReadOnlySpan<float> values)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float };
        foreach (long d in dims) t.Dims.Add(d);
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        t.RawData = Google.Protobuf.ByteString.CopyFrom(bytes);
        return t;
    }

    /// <summary>An int64 initializer (shape constants).</summary>
    public static TensorProto FromInt64(string name, ReadOnlySpan<long> values)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        t.Dims.Add(values.Length);
        foreach (long v in values) t.Int64Data.Add(v);
        return t;
    }

    /// <summary>The data type's name for messages.</summary>
    public static string Name(int dataType) => Enum.IsDefined(typeof(DataType), dataType) ? ((DataType)dataType).ToString().ToLowerInvariant() : $"#{dataType}";
}
