using Lopper.Tensors;

namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// Constant and the shape arithmetic exporters emit around a flatten (Shape, Gather, Unsqueeze, Squeeze,
/// Concat), folded at import time; the batch size stays symbolic (<see cref="ImportValue.BatchDim"/>).
/// </summary>
internal static class ConstantFold
{
    public static void Constant(ImportContext ctx)
    {
        var a = ctx.Attributes("value", "value_float", "value_floats", "value_int", "value_ints");
        if (a.Tensor("value") is { } t)
        {
            string what = $"Constant '{ctx.Node.Output[0]}'";
            ctx.SetOutput(0, t.DataType == (int)Proto.TensorProto.Types.DataType.Float
                ? ImportValue.Constant(OnnxTensors.Float(t, what))
                : ImportValue.Constant(OnnxTensors.Int64(t, what), t.Dims.Select(d => (int)d).ToArray()));
        }
        else if (a.Has("value_int")) ctx.SetOutput(0, ImportValue.Constant([a.Int("value_int", 0)], []));
        else if (a.Ints("value_ints") is { } ints) ctx.SetOutput(0, ImportValue.Constant(ints, [ints.Length]));
        else if (a.Has("value_float")) ctx.SetOutput(0, ImportValue.Constant(new Tensor([], [a.Float("value_float", 0f)])));
        else throw ctx.Fail("Constant without a supported value (value, value_int(s), value_float)");
    }

    public static void Shape(ImportContext ctx)
    {
        var a = ctx.Attributes("start", "end");
        var x = ctx.GraphInput(0);
        var dims = x.Shape.Select(d => (long)d).ToArray();
        dims[0] = ImportValue.BatchDim;
        int r = dims.Length;
        long start = a.Int("start", 0), end = a.Int("end", r);
        if (start < 0) start += r;
        if (end < 0) end += r;
        start = Math.Clamp(start, 0, r);
        end = Math.Clamp(end, start, r);
        var v = dims[(int)start..(int)end];
        ctx.SetOutput(0, ImportValue.Constant(v, [v.Length]));
    }

    public static void Gather(ImportContext ctx)
    {
        var a = ctx.Attributes("axis");
        var (data, dims) = ctx.IntInput(0, "data");
        var (idx, idxDims) = ctx.IntInput(1, "indices");
        if (dims.Length != 1 || a.Int("axis", 0) != 0) throw ctx.Fail("only gathering from a 1-D shape constant is supported");
        var r = new long[idx.Length];
        for (int i = 0; i < idx.Length; i++)
        {
            long j = idx[i] < 0 ? idx[i] + data.Length : idx[i];
            if (j < 0 || j >= data.Length) throw ctx.Fail($"index {idx[i]} out of range for {data.Length} values");
            r[i] = data[j];
        }
        ctx.SetOutput(0, ImportValue.Constant(r, idxDims));
    }

    public static void Unsqueeze(ImportContext ctx)
    {
        var a = ctx.Attributes("axes");
        var (data, dims) = ctx.IntInput(0, "data");
        var axes = a.Ints("axes") ?? ctx.IntInput(1, "axes").Values;
        var shape = dims.ToList();
        int rank = dims.Length + axes.Length;
        foreach (long ax in axes.Select(x => x < 0 ? x + rank : x).Order())
        {
            if (ax < 0 || ax > shape.Count) throw ctx.Fail($"axis {ax} out of range");
            shape.Insert((int)ax, 1);
        }
        ctx.SetOutput(0, ImportValue.Constant(data, shape.ToArray()));
    }

    public static void Squeeze(ImportContext ctx)
    {
        var a = ctx.Attributes("axes");
        var (data, dims) = ctx.IntInput(0, "data");
        var axes = a.Ints("axes") ?? (ctx.HasInput(1) ? ctx.IntInput(1, "axes").Values : null);
        var keep = new List<int>();
        for (int i = 0; i < dims.Length; i++)
        {
            bool squeeze = axes is null ? dims[i] == 1 : axes.Any(x => (x < 0 ? x + dims.Length : x) == i);
            if (squeeze && dims[i] != 1) throw ctx.Fail($"cannot squeeze axis {i} of size {dims[i]}");
            if (!squeeze) keep.Add(dims[i]);
        }
        ctx.SetOutput(0, ImportValue.Constant(data, keep.ToArray()));
    }

    public static void Concat(ImportContext ctx)
    {
        var a = ctx.Attributes("axis");
        for (int i = 0; i < ctx.InputCount; i++)
            if (ctx.Input(i).IsGraph)
            {
                ChannelImport.Concat(ctx, a);
                return;
            }
        var parts = new List<long>();
        for (int i = 0; i < ctx.InputCount; i++)
        {
            var (v, dims) = ctx.IntInput(i, "input");
            if (dims.Length > 1) throw ctx.Fail("only 1-D shape constants can be concatenated");
            parts.AddRange(v);
        }
        if (a.Int("axis", 0) is not (0 or -1)) throw ctx.Fail("only axis 0 is supported for shape constants");
        ctx.SetOutput(0, ImportValue.Constant(parts.ToArray(), [parts.Count]));
    }
}
