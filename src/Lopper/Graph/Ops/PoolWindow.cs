using Lopper.Tensors;

namespace Lopper.Graph.Ops;

/// <summary>
/// Output size and window bounds of max and average pooling, with PyTorch's rules: out = floor or ceil of
/// (in + 2*padding - kernel) / stride, plus 1, and in ceil mode a last window that would start in the right
/// padding is dropped, so every window starts inside the image or the left padding.
/// </summary>
internal static class PoolWindow
{
    /// <summary>Output length along one axis of length <paramref name="size"/>.</summary>
    public static int OutSize(int size, int kernel, int stride, int padding, bool ceilMode)
    {
        int span = size + 2 * padding - kernel;
        if (span < 0) return 0;
        int o = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1;
        if (ceilMode && (o - 1) * stride >= size + padding) o--;
        return o;
    }

    /// <summary>
    /// The output shape [N, C, OH, OW] of a window over an [N, C, H, W] input; <paramref name="error"/> makes the op's
    /// shape error for an input of another rank or one smaller than the window.
    /// </summary>
    public static int[] OutputShape(int[] s, int kernel, int stride, int padding, bool ceilMode, Func<string, Exception> error)
    {
        if (s.Length != 4) throw error($"expects [N,C,H,W], got {Tensor.Format(s)}");
        int oh = OutSize(s[2], kernel, stride, padding, ceilMode), ow = OutSize(s[3], kernel, stride, padding, ceilMode);
        if (oh < 1 || ow < 1) throw error($"input {s[2]}x{s[3]} too small for window {kernel}");
        return [s[0], s[1], oh, ow];
    }

    /// <summary>Checks the attributes PyTorch requires: kernel, stride at least 1; padding at most half the kernel.</summary>
    public static void Check(string op, int kernel, int stride, int padding)
    {
        if (kernel < 1) throw new LopperInputException($"op {op}: kernel must be at least 1, got {kernel}");
        if (stride < 1) throw new LopperInputException($"op {op}: stride must be at least 1, got {stride}");
        if (padding < 0 || padding > kernel / 2) throw new LopperInputException($"op {op}: padding must be in [0, kernel/2 = {kernel / 2}], got {padding}");
    }
}
