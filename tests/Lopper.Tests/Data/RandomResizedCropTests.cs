using Lopper.Data;
using Lopper.Tensors;

namespace Lopper.Tests.Data;

public class RandomResizedCropTests
{
    [Fact]
    public void FullBoxIsTheIdentityAndFlipMirrors()
    {
        var src = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)(i * 7)).ToArray();
        var lut = new float[2 * 256];
        for (int i = 0; i < lut.Length; i++) lut[i] = i % 256;
        var dst = new float[src.Length];
        RandomResizedCrop.Fill(src, dst, lut, 2, 3, 4, new RandomResizedCrop.Box(0, 0, 4, 3), flip: false);
        Assert.Equal(src.Select(v => (float)v).ToArray(), dst);
        RandomResizedCrop.Fill(src, dst, lut, 2, 3, 4, new RandomResizedCrop.Box(0, 0, 4, 3), flip: true);
        for (int c = 0; c < 2; c++)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 4; x++) Assert.Equal(src[c * 12 + y * 4 + 3 - x], dst[c * 12 + y * 4 + x]);
    }

    [Fact]
    public void HalfBoxUpsamplesItsRegion()
    {
        // A 2x2 box at (2, 2) of a 4x4 image whose values are x + 10y, upsampled 2x: bilinear with aligned centres
        // gives exactly the linear function sampled at the box's sub-pixel positions (clamped at the box's far edge).
        var src = new byte[16];
        for (int y = 0; y < 4; y++) for (int x = 0; x < 4; x++) src[y * 4 + x] = (byte)(x + 10 * y);
        var lut = Enumerable.Range(0, 256).Select(v => (float)v).ToArray();
        var dst = new float[16];
        RandomResizedCrop.Fill(src, dst, lut, 1, 4, 4, new RandomResizedCrop.Box(2, 2, 2, 2), flip: false);
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++)
            {
                double fx = Math.Clamp(2 + (x + 0.5) * 0.5 - 0.5, 0, 3), fy = Math.Clamp(2 + (y + 0.5) * 0.5 - 0.5, 0, 3);
                Assert.Equal(fx + 10 * fy, dst[y * 4 + x], 4);
            }
    }

    [Fact]
    public void BoxesStayInsideAndFollowTheSeed()
    {
        var a = new Rng(3);
        var b = new Rng(3);
        for (int i = 0; i < 500; i++)
        {
            var box = RandomResizedCrop.Sample(a, 20, 30);
            Assert.Equal(box, RandomResizedCrop.Sample(b, 20, 30));
            Assert.InRange(box.X, 0, 30 - box.W);
            Assert.InRange(box.Y, 0, 20 - box.H);
            Assert.InRange(box.W * box.H, 0.08 * 600 * 0.8, 600);
        }
    }

    [Fact]
    public void LoaderWithRandomResizedCropIsDeterministicAndDiffersFromPlain()
    {
        var px = Enumerable.Range(0, 8 * 64).Select(i => (byte)(i * 13 % 256)).ToArray();
        var ds = new Dataset("t", "train", px, [0, 1, 0, 1, 0, 1, 0, 1], 1, 8, 8, 2);
        var plain = new DataLoader(ds, 4, 7);
        var rrc = plain.WithRandomResizedCrop();
        using var p = plain.GetBatch(1, 1);
        using var r1 = rrc.GetBatch(1, 1);
        using var r2 = rrc.GetBatch(1, 1);
        Assert.Equal(r1.Images.Span.ToArray(), r2.Images.Span.ToArray());
        Assert.Equal(p.Labels, r1.Labels);
        Assert.NotEqual(p.Images.Span.ToArray(), r1.Images.Span.ToArray());
        Assert.False(plain.RandomResizedCrop);
    }
}
