namespace Lopper.Data;

/// <summary>
/// The train and test splits of a dataset and where they were read from. Deconstructs into
/// <c>(train, test)</c>.
/// </summary>
/// <param name="Train">Training split.</param>
/// <param name="Test">Test split.</param>
/// <param name="Source">Where the files came from: a directory, or <see cref="EmbeddedFashionMnist.SourceName"/>.</param>
public sealed record DataSplits(Dataset Train, Dataset Test, string Source)
{
    /// <summary>True when the splits are the small Fashion-MNIST subset shipped inside the library.</summary>
    public bool IsEmbeddedSubset => Source == EmbeddedFashionMnist.SourceName;

    /// <summary>Deconstructs into the two splits.</summary>
    public void Deconstruct(out Dataset train, out Dataset test)
    {
        train = Train;
        test = Test;
    }
}
