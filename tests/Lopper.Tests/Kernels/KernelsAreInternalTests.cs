using Lopper.Tensors;

namespace Lopper.Tests.Kernels;

/// <summary>The GEMM and convolution kernels are plumbing behind the ops, not part of the published library API.</summary>
public class KernelsAreInternalTests
{
    [Fact]
    public void NoKernelTypeIsExported()
    {
        var exported = typeof(Tensor).Assembly.GetExportedTypes()
            .Where(t => t.Namespace == "Lopper.Tensors.Kernels").Select(t => t.FullName).ToList();
        Assert.Empty(exported);
        // The kernels are still there, reachable by the tests and the CLI benchmarks through InternalsVisibleTo.
        Assert.NotNull(typeof(Tensor).Assembly.GetType("Lopper.Tensors.Kernels.Gemm"));
    }
}
