using Lopper.Tensors;

namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// ConstantOfShape, Slice, Transpose and Cast on integer constants, folded at import: PyTorch writes a
/// ZeroPad2d's pads as such a chain (pad list -> [-1, 2] rows -> reversed -> transposed -> flattened).
/// </summary>
internal static class ConstantArrays
{
    public static void ConstantOfShape(ImportContext ctx)
    {
        var a = ctx.Attributes("value");
        var (shape, _) = ctx.IntInput(0, "shape");
        var dims = shape.Select(d => d is >= 0 and <= 1 << 20 ? (int)d : throw ctx.Fail($"dimension {d} out of range")).ToArray();
        long n = OnnxTensors.Count(shape, ctx.Node.Output[0]);
        if (n > 1 << 20) throw ctx.Fail($"{n} elements is too large for a folded constant");
        var t = a.Tensor("value");
        if (t is null || t.DataType == (int)Proto.TensorProto.Types.DataType.Float)
        {
            float v = t is null ? 0f : OnnxTensors.Float(t, "value").Data.FirstOrDefault();
            var data = new float[n];
            Array.Fill(data, v);
            ctx.SetOutput(0, ImportValue.Constant(new Tensor(dims, data)));
            return;
        }
        var iv = OnnxTensors.Int64(t, "value");
        var r = new long[n];
        Array.Fill(r, iv.Length > 0 ? iv[0] : 0);
        ctx.SetOutput(0, ImportValue.Constant(r, dims));
    }

    public static void Cast(ImportContext ctx)
    {
        var a = ctx.Attributes("to", "saturate");
        long to = a.Int("to", 0);
        var x = ctx.Input(0);
        if (x.IsGraph) throw ctx.Fail("casting a feature map is not supported (Lopper computes in float32)");
        if (to is (long)Proto.TensorProto.Types.DataType.Int64 or (long)Proto.TensorProto.Types.DataType.Int32 && x.Ints is not null)
            ctx.SetOutput(0, x);
        else if (to == (long)Proto.TensorProto.Types.DataType.Float && x.Float is not null) ctx.SetOutput(0, x);
        else if (to == (long)Proto.TensorProto.Types.DataType.Float && x.Ints is not null && !x.Ints.Contains(ImportValue.BatchDim))
            ctx.SetOutput(0, ImportValue.Constant(new Tensor(x.IntDims, x.Ints.Select(v => (float)v).ToArray())));
        else throw ctx.Fail($"cast to {OnnxTensors.Name((int)to)} is not supported");
    }

    public static void Transpose(ImportContext ctx)
    {
        if (ctx.Input(0).IsGraph)
        {
            if (ChannelsLastImport.TryTranspose(ctx)) return;
            ShuffleImport.Transpose(ctx);
            return;
        }
        var a = ctx.Attributes("perm");
        var (v, dims) = ctx.IntInput(0, "data");
        int r = dims.Length;
        var perm = a.Ints("perm") ?? Enumerable.Range(0, r).Reverse().Select(i => (long)i).ToArray();
        if (perm.Length != r || perm.Order().Select((p, i) => p == i).Any(ok => !ok)) throw ctx.Fail($"perm [{string.Join(",", perm)}] is not a permutation of {r} axes");
        var outDims = perm.Select(p => dims[p]).ToArray();
        var inStrides = Strides(dims);
        var result = new long[v.Length];
        var idx = new int[r];
        for (int flat = 0; flat < result.Length; flat++)
        {
            int rem = flat, src = 0;
            for (int d = r - 1; d >= 0; d--)
            {
                idx[d] = rem % outDims[d];
                rem /= outDims[d];
                src += idx[d] * inStrides[perm[d]];
            }
            result[flat] = v[src];
        }
        ctx.SetOutput(0, ImportValue.Constant(result, outDims));
    }

    public static void Slice(ImportContext ctx)
    {
        ctx.Attributes();
        if (ctx.Input(0).IsGraph)
        {
            ChannelImport.Slice(ctx);
            return;
        }
        var (v, dims) = ctx.IntInput(0, "data");
        var starts = ctx.IntInput(1, "starts").Values;
        var ends = ctx.IntInput(2, "ends").Values;
        var axes = ctx.HasInput(3) ? ctx.IntInput(3, "axes").Values : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        var steps = ctx.HasInput(4) ? ctx.IntInput(4, "steps").Values : Enumerable.Repeat(1L, starts.Length).ToArray();
        int r = dims.Length;
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length) throw ctx.Fail("starts, ends, axes and steps differ in length");
        var first = new long[r];
        var step = new long[r];
        var count = new int[r];
        for (int d = 0; d < r; d++) { step[d] = 1; count[d] = dims[d]; }
        for (int i = 0; i < starts.Length; i++)
        {
            int d = (int)(axes[i] < 0 ? axes[i] + r : axes[i]);
            if (d < 0 || d >= r) throw ctx.Fail($"axis {axes[i]} out of range");
            long n = dims[d], s = steps[i];
            if (s == 0) throw ctx.Fail("step 0");
            long b = starts[i] < 0 ? starts[i] + n : starts[i], e = ends[i] < 0 ? ends[i] + n : ends[i];
            if (s > 0) { b = Math.Clamp(b, 0, n); e = Math.Clamp(e, 0, n); count[d] = (int)Math.Max(0, (e - b + s - 1) / s); }
            else { b = Math.Clamp(b, -1, n - 1); e = Math.Clamp(e, -1, n - 1); count[d] = (int)Math.Max(0, (b - e + (-s) - 1) / (-s)); }
            first[d] = b;
            step[d] = s;
        }
        var strides = Strides(dims);
        long total = 1;
        foreach (int c in count) total *= c;
        var result = new long[total];
        var idx = new int[r];
        for (int flat = 0; flat < total; flat++)
        {
            int rem = flat;
            long src = 0;
            for (int d = r - 1; d >= 0; d--)
            {
                idx[d] = rem % count[d];
                rem /= count[d];
                src += (first[d] + idx[d] * step[d]) * strides[d];
            }
            result[flat] = v[src];
        }
        ctx.SetOutput(0, ImportValue.Constant(result, count));
    }

    private static int[] Strides(int[] dims)
    {
        var s = new int[dims.Length];
        int acc = 1;
        for (int d = dims.Length - 1; d >= 0; d--) { s[d] = acc; acc *= dims[d]; }
        return s;
    }
}
