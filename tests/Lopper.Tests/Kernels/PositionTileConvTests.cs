using Lopper.Tensors.Kernels;

namespace Lopper.Tests.Kernels;

/// <summary>PositionTileConv's register blocks (the kernels that take its plans: CompactTileConvTests).</summary>
public class PositionTileConvTests
{
    [Theory]
    [InlineData(1, new[] { 0, 1 })]
    [InlineData(8, new[] { 0, 8 })]
    [InlineData(12, new[] { 0, 6, 12 })]
    [InlineData(17, new[] { 0, 5, 11, 17 })]
    [InlineData(49, new[] { 0, 7, 14, 21, 28, 35, 42, 49 })]
    public void BlocksAreAsEvenAsPossibleAndAtMostEight(int filters, int[] starts) =>
        Assert.Equal(starts, PositionTileConv.BlockStarts(filters));
}
