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

    /// <summary>Checks the attributes PyTorch requires: kernel, stride at least 1; padding at most half the kernel.</summary>
    public static void Check(string op, int kernel, int stride, int padding)
    {
        if (kernel < 1) throw new LopperInputException($"op {op}: kernel must be at least 1, got {kernel}");
        if (stride < 1) throw new LopperInputException($"op {op}: stride must be at least 1, got {stride}");
        if (padding < 0 || padding > kernel / 2) throw new LopperInputException($"op {op}: padding must be in [0, kernel/2 = {kernel / 2}], got {padding}");
    }
}
