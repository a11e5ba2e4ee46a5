using Lopper.Data;

namespace Lopper.Tests.Data;

/// <summary>
/// A fact that needs the full Fashion-MNIST (Debian's dataset-fashion-mnist): skipped, with the reason,
/// where the package is not installed, so a fresh clone's test run has no failures. CI installs it.
/// </summary>
public sealed class FullFashionMnistFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the default directory is missing.</summary>
    public FullFashionMnistFactAttribute()
    {
        string dir = DataCatalog.DefaultDirectory("fashion-mnist");
        if (!Directory.Exists(dir)) Skip = $"needs the full Fashion-MNIST under {dir} (apt-get install dataset-fashion-mnist)";
    }
}
