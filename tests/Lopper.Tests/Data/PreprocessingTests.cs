using Lopper.Data;
using Lopper.Data.Images;
using Lopper.Imaging;

namespace Lopper.Tests.Data;

public class PreprocessingTests
{
    private static Preprocessing Sample() => new()
    {
        InputShape = [3, 2, 2], ChannelOrder = "rgb", Mean = [0.1f, 0.2f, 0.3f], Std = [0.5f, 0.25f, 0.125f],
        ClassNames = ["cat", "dog"], Resize = 0, Crop = 0, Dataset = "imagefolder",
    };

    [Fact]
    public void RoundTripsThroughItsFile()
    {
        using var dir = new TempDir();
        Sample().Save(dir.Path);
        var back = Preprocessing.TryLoad(dir.Path)!;
        Assert.Equal(Sample().InputShape, back.InputShape);
        Assert.Equal(Sample().Mean, back.Mean);
        Assert.Equal(Sample().Std, back.Std);
        Assert.Equal(Sample().ClassNames, back.ClassNames);
        Assert.Equal("rgb", back.ChannelOrder);
        Assert.Null(Preprocessing.TryLoad(dir.File("nothing-here")));
    }

    [Fact]
    public void MalformedFileIsNamed()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File(Preprocessing.FileName), """{"input_shape":[3,2,2],"channel_order":"rgb","mean":[0,0],"std":[1,1,1],"class_names":["a"]}""");
        var ex = Assert.Throws<LopperInputException>(() => Preprocessing.TryLoad(dir.Path));
        Assert.Contains("preprocessing.json: mean and std need 3 values", ex.Message);
    }

    [Fact]
    public void ToBatchNormalisesExactlyAsTheTrainingLoader()
    {
        // The same image through the loader (from a dataset) and through predict's path must give the same floats.
        var hwc = new DecodedImage(2, 2, 3, Enumerable.Range(0, 12).Select(i => (byte)(i * 20)).ToArray());
        var chw = new byte[12];
        ImageTransform.ToChw(hwc, 3, chw);
        var ds = new Dataset("t", "train", chw, [1], 3, 2, 2, 2);
        var pre = Sample();
        var loader = new DataLoader(ds, 1, 0, shuffle: false, pre.Mean, pre.Std);
        using var batch = loader.GetBatch(0, 0);
        var t = pre.ToBatch([("x.png", hwc)], SkiaImageDecoder.Instance);
        Assert.Equal(batch.Images.Span.ToArray(), t.Span.ToArray());
        // RGB into a grey model: ITU-R 601 luma.
        var grey = Sample() with { InputShape = [1, 2, 2], ChannelOrder = "grey", Mean = [0f], Std = [1f] };
        var g = grey.ToBatch([("x.png", hwc)], SkiaImageDecoder.Instance);
        Assert.Equal((float)Math.Round(0.299 * 0 + 0.587 * 20 + 0.114 * 40) / 255f, g.Span[0], 6);
        // A wrong size is named.
        var ex = Assert.Throws<LopperInputException>(() => pre.ToBatch([("big.png", new DecodedImage(3, 3, 3, new byte[27]))], SkiaImageDecoder.Instance));
        Assert.Contains("big.png: 3x3 after preprocessing, the model takes 2x2", ex.Message);
    }
}
