using System.Runtime.Intrinsics;
using Lopper.Tensors.Kernels;

namespace Lopper.Tests.Kernels;

/// <summary>The Vector256 lane helpers of the AVX2 kernels.</summary>
public unsafe class SimdTests
{
    [Fact]
    public void StoreFirst256WritesExactlyTheFirstLanes()
    {
        var v = Vector256.Create(1f, 2, 3, 4, 5, 6, 7, 8);
        var buffer = new float[12];
        for (int count = -1; count <= 9; count++)
        {
            Array.Fill(buffer, float.NaN);
            fixed (float* p = buffer) Simd.StoreFirst256(p + 2, v, count);
            for (int i = 0; i < buffer.Length; i++)
            {
                int lane = i - 2;
                if (lane >= 0 && lane < Math.Clamp(count, 0, 8)) Assert.Equal(lane + 1, buffer[i]);
                else Assert.True(float.IsNaN(buffer[i]), $"count {count}: float {i} written");
            }
        }
    }

    [Fact]
    public void EvenAndOddLanes256SplitSixteenFloats()
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return;
        var lo = Vector256.Create(0f, 1, 2, 3, 4, 5, 6, 7);
        var hi = Vector256.Create(8f, 9, 10, 11, 12, 13, 14, 15);
        Assert.Equal(Vector256.Create(0f, 2, 4, 6, 8, 10, 12, 14), Simd.EvenLanes256(lo, hi));
        Assert.Equal(Vector256.Create(1f, 3, 5, 7, 9, 11, 13, 15), Simd.OddLanes256(lo, hi));
    }
}
