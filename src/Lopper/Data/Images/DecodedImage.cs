namespace Lopper.Data.Images;

/// <summary>
/// One decoded 8-bit image, pixels interleaved row by row (HWC): 1 channel for greyscale, 3 for RGB
/// (alpha is dropped, as torchvision's <c>convert("RGB")</c> does).
/// </summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Channels">1 (grey) or 3 (RGB).</param>
/// <param name="Pixels">Width*Height*Channels bytes, HWC.</param>
public sealed record DecodedImage(int Width, int Height, int Channels, byte[] Pixels);
