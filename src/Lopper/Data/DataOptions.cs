using Lopper.Data.Images;

namespace Lopper.Data;

/// <summary>
/// Settings for the user-data readers (<c>imagefolder</c> and <c>npy</c> in <see cref="DataCatalog.Resolve"/>);
/// the built-in datasets ignore them.
/// </summary>
public sealed record DataOptions
{
    /// <summary>Resize every image so its shorter side is this many pixels (aspect kept); 0 = no resize.</summary>
    public int Resize { get; init; }

    /// <summary>Centre-crop every image to Crop x Crop after any resize; 0 = no crop.</summary>
    public int Crop { get; init; }

    /// <summary>When the data has no separate validation split, the fraction of each class held out for it (seeded); 0 = none.</summary>
    public double ValSplit { get; init; }

    /// <summary>Seed of the validation hold-out.</summary>
    public ulong Seed { get; init; }

    /// <summary>The image decoder (Lopper.Imaging's SkiaImageDecoder); required for image folders.</summary>
    public IImageDecoder? Decoder { get; init; }

    /// <summary>Where decoded caches go; null = a .lopper-cache folder inside the data folder (the temp folder when that is not writable).</summary>
    public string? CacheDir { get; init; }

    /// <summary>Training augmentation recorded with the data settings: random resized crop (see <see cref="DataLoader.WithRandomResizedCrop"/>).</summary>
    public bool RandomResizedCrop { get; init; }

    /// <summary>False skips the decoded cache (decode every time).</summary>
    public bool UseCache { get; init; } = true;
}
