using Lopper.Tensors;

namespace Lopper.Data;

/// <summary>
/// One mini-batch from a <see cref="DataLoader"/>: normalised float images and their labels.
/// </summary>
/// <remarks>
/// Ownership: the batch owns <see cref="Images"/>, whose array was rented from
/// <see cref="BufferPool"/>. Whoever receives the batch disposes it once the step that reads it
/// is done (typically <c>using var batch = ...</c>); that returns the array so the next batch of
/// the same size reuses it. After <see cref="Dispose"/> the tensor is empty and must not be used.
/// Forgetting to dispose leaks nothing — the array is simply garbage-collected instead of reused.
/// <see cref="Labels"/> is a plain array the receiver may keep.
/// </remarks>
public sealed class Batch : IDisposable
{
    private bool _disposed;

    internal Batch(Tensor images, int[] labels, int epoch, int index)
    {
        Images = images;
        Labels = labels;
        Epoch = epoch;
        Index = index;
    }

    /// <summary>Images [Count, C, H, W], normalised per channel (and augmented if the loader asks).</summary>
    public Tensor Images { get; }

    /// <summary>The label of each image, in the same order.</summary>
    public int[] Labels { get; }

    /// <summary>Number of samples; the last batch of an epoch can be smaller than the batch size.</summary>
    public int Count => Labels.Length;

    /// <summary>The epoch this batch belongs to.</summary>
    public int Epoch { get; }

    /// <summary>The batch's position within its epoch.</summary>
    public int Index { get; }

    /// <summary>Returns the image array to <see cref="BufferPool"/>. Safe to call more than once.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Images.Release();
    }
}
