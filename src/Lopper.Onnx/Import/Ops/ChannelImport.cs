using Lopper.Graph.Ops;
using Lopper.Tensors;

namespace Lopper.Onnx.Import.Ops;

/// <summary>
/// ONNX ops that wire channels: Concat, Slice and Split of feature maps along the channel axis (to concat and
/// channel_slice), and Mul (a squeeze-and-excitation gate, x * Sigmoid(x) as silu, x * HardSigmoid(x) with
/// PyTorch's 1/6 and 1/2 as hardswish, an elementwise product, or a per-channel constant scale).
/// </summary>
internal static class ChannelImport
{
    public static void Concat(ImportContext ctx, OnnxAttributes a)
    {
        var inputs = new ImportValue[ctx.InputCount];
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!ctx.Input(i).IsGraph) throw ctx.Fail($"input {i} is a constant; concatenating a constant with feature maps is not supported");
            inputs[i] = ctx.GraphInput(i);
        }
        int rank = inputs[0].Shape.Length;
        long axis = a.Int("axis", 1);
        if (axis < 0) axis += rank;
        if (axis != 1) throw ctx.Fail($"concatenating feature maps along axis {a.Int("axis", 1)} is not supported; only along the channels (axis 1)");
        // torchvision's DenseNet concatenates a list of one tensor in each block's first layer: the identity.
        if (inputs.Length == 1) ctx.SetOutput(0, inputs[0]);
        else ctx.Add(new ConcatOp(), inputs);
    }

    public static void Slice(ImportContext ctx)
    {
        var x = ctx.GraphInput(0);
        var starts = ctx.IntInput(1, "starts").Values;
        var ends = ctx.IntInput(2, "ends").Values;
        var axes = ctx.HasInput(3) ? ctx.IntInput(3, "axes").Values : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        var steps = ctx.HasInput(4) ? ctx.IntInput(4, "steps").Values : Enumerable.Repeat(1L, starts.Length).ToArray();
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length) throw ctx.Fail("starts, ends, axes and steps differ in length");
        int rank = x.Shape.Length, c = x.Shape[1];
        long first = 0, last = c;
        for (int i = 0; i < starts.Length; i++)
        {
            long d = axes[i] < 0 ? axes[i] + rank : axes[i];
            if (d < 0 || d >= rank) throw ctx.Fail($"axis {axes[i]} out of range for a rank-{rank} feature map");
            long n = d == 0 ? long.MaxValue : x.Shape[d];
            long b = Clamp(starts[i], n), e = Clamp(ends[i], n);
            if (d == 1)
            {
                if (steps[i] != 1) throw ctx.Fail($"slicing channels with step {steps[i]} is not supported; only contiguous channel ranges");
                first = b;
                last = e;
            }
            else if (steps[i] != 1 || b != 0 || e < n)
                throw ctx.Fail($"slicing axis {d} of a feature map is not supported; only channel ranges (axis 1)");
        }
        if (last <= first) throw ctx.Fail($"the channel range [{first}, {last}) is empty");
        ctx.Add(new ChannelSliceOp((int)first, (int)(last - first)), [x]);
    }

    private static long Clamp(long v, long n) => n == long.MaxValue ? Math.Max(v, 0) : Math.Clamp(v < 0 ? v + n : v, 0, n);

    public static void Split(ImportContext ctx)
    {
        var a = ctx.Attributes("axis", "split", "num_outputs");
        var x = ctx.GraphInput(0);
        int rank = x.Shape.Length, c = x.Shape[1];
        long axis = a.Int("axis", 0);
        if (axis < 0) axis += rank;
        if (axis != 1) throw ctx.Fail($"Split along axis {a.Int("axis", 0)} is not supported; only along the channels (axis 1)");
        int outputs = ctx.Node.Output.Count;
        long[] sizes = ctx.HasInput(1) ? ctx.IntInput(1, "split").Values : a.Ints("split") ?? Even(ctx, c, (int)a.Int("num_outputs", outputs));
        if (sizes.Length != outputs || sizes.Any(s => s < 1) || sizes.Sum() != c)
            throw ctx.Fail($"split sizes [{string.Join(",", sizes)}] do not divide {c} channels into {outputs} outputs");
        int start = 0;
        for (int i = 0; i < outputs; i++)
        {
            if (ctx.Node.Output[i].Length > 0)
                ctx.SetOutput(i, ctx.Create(new ChannelSliceOp(start, (int)sizes[i]), [x], $"split{i}"));
            start += (int)sizes[i];
        }
    }

    // Opset 18's num_outputs (and a Split without sizes): equal parts, the last one smaller when uneven.
    private static long[] Even(ImportContext ctx, int c, int parts)
    {
        if (parts < 1 || parts > c) throw ctx.Fail($"cannot split {c} channels into {parts} parts");
        long each = (c + parts - 1) / parts;
        return Enumerable.Range(0, parts).Select(i => Math.Min(each, c - i * each)).ToArray();
    }

    public static void Mul(ImportContext ctx)
    {
        if (IntegerArithmetic.Applies(ctx))
        {
            IntegerArithmetic.Fold(ctx);
            return;
        }
        if (LayerNormImport.TryMul(ctx) || GeluImport.TryMul(ctx)) return;
        ctx.Attributes();
        bool ga = ctx.Input(0).IsGraph, gb = ctx.Input(1).IsGraph;
        if (ga && gb)
        {
            var x = ctx.GraphInput(0);
            var y = ctx.GraphInput(1);
            if (SelfGated(ctx, x, y) is { } op1) { ctx.Add(op1, [x]); return; }
            if (SelfGated(ctx, y, x) is { } op2) { ctx.Add(op2, [y]); return; }
            var mul = new MulOp();
            if (Fits(mul, x, y)) ctx.Add(mul, [x, y]);
            else if (Fits(mul, y, x)) ctx.Add(mul, [y, x]);
            else throw ctx.Fail($"multiplying {Tensor.Format(x.Shape)} by {Tensor.Format(y.Shape)} is not supported; only same-shaped maps or a per-channel [N,C,1,1] gate");
            return;
        }
        if (!ga && !gb) throw ctx.Fail("multiplying two constants is not supported (fold it in the exporter)");
        var g = ctx.GraphInput(ga ? 0 : 1);
        var c = ctx.FloatInput(ga ? 1 : 0, "scale");
        int channels = g.Shape[1];
        bool perChannel = c.Length == channels && (g.Shape.Length == 2
            ? c.Shape.Length <= 2 && c.Shape[^1] == channels
            : c.Shape.Length >= 3 && c.Shape[^1] == 1 && c.Shape[^2] == 1 && c.Shape[^3] == channels && c.Shape.Length <= g.Shape.Length);
        if (!perChannel && c.Length != 1)
            throw ctx.Fail($"multiplying a {Tensor.Format(g.Shape)} feature map by a {Tensor.Format(c.Shape)} constant is not supported; only a scalar or one scale per channel");
        var scale = new float[channels];
        for (int i = 0; i < channels; i++) scale[i] = c.Data[c.Length == 1 ? 0 : i];
        ctx.Add(new ChannelMulOp(channels), [g], ("scale", new Tensor([channels], scale)));
    }

    private static bool Fits(MulOp op, ImportValue a, ImportValue b)
    {
        try { op.OutputShape([a.Shape, b.Shape]); return true; }
        catch (LopperInputException) { return false; }
    }

    // x * Sigmoid(x) is SiLU; x * HardSigmoid(x) with PyTorch's alpha 1/6 and beta 1/2 is hard-swish.
    private static Lopper.Graph.Op? SelfGated(ImportContext ctx, ImportValue x, ImportValue gate)
    {
        var producer = ctx.Producer(gate);
        if (producer is null || producer.Inputs.Length != 1 || producer.Inputs[0] != x.Node) return null;
        return producer.Op switch
        {
            SigmoidOp => new SiluOp(),
            HardSigmoidOp h when Math.Abs(h.Alpha - HardSigmoidOp.DefaultAlpha) < 1e-6 && Math.Abs(h.Beta - HardSigmoidOp.DefaultBeta) < 1e-6 => new HardSwishOp(),
            _ => null,
        };
    }
}
