namespace Lopper.Tensors.Kernels;

/// <summary>
/// The column masks of the position-tile kernels (<see cref="CompactTileConv"/>, <see cref="PositionTileConv256"/>),
/// whose vector lanes are consecutive positions of an h x w plane: a position's left and right neighbours across a row
/// end are the previous row's last and the next row's first value, so those two taps are masked by the position's
/// column. Per chunk of <c>chunk</c> positions, <c>chunk</c> floats whose bits are all set where the left neighbour is
/// in the row, then <c>chunk</c> for the right neighbour.
/// </summary>
internal static unsafe class ColumnMasks
{
    /// <summary>Floats of the masks of planes of h x w in chunks of <paramref name="chunk"/> positions.</summary>
    public static int Length(int h, int w, int chunk) => 2 * ((h * w + chunk - 1) / chunk) * chunk;

    /// <summary>Writes the masks (<see cref="Length"/> floats).</summary>
    public static void Write(int h, int w, int chunk, float* masks)
    {
        float on = BitConverter.Int32BitsToSingle(-1);
        int chunks = (h * w + chunk - 1) / chunk;
        for (int c = 0; c < chunks; c++)
            for (int l = 0; l < chunk; l++)
            {
                int column = (c * chunk + l) % w;
                masks[2 * c * chunk + l] = column > 0 ? on : 0f;
                masks[(2 * c + 1) * chunk + l] = column < w - 1 ? on : 0f;
            }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int H, int W, int Chunk), float[]> Cache = new();

    /// <summary>The masks of planes of h x w, made once per geometry and chunk and shared (read-only).</summary>
    public static float[] For(int h, int w, int chunk) => Cache.GetOrAdd((h, w, chunk), static key =>
    {
        var masks = new float[Length(key.H, key.W, key.Chunk)];
        fixed (float* m = masks) Write(key.H, key.W, key.Chunk, m);
        return masks;
    });
}
