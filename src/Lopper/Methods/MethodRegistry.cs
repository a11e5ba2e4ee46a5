namespace Lopper.Methods;

/// <summary>A set of pruning methods by name; <see cref="PruningMethods.Registry"/> holds Lopper's own.</summary>
public sealed class MethodRegistry
{
    private readonly PruningMethodInfo[] _methods;

    /// <summary>A registry of <paramref name="methods"/> (names must be unique).</summary>
    public MethodRegistry(IEnumerable<PruningMethodInfo> methods)
    {
        _methods = [.. methods];
        var dup = _methods.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"two methods are named '{dup.Key}'", nameof(methods));
    }

    /// <summary>The methods, in registration order.</summary>
    public IReadOnlyList<PruningMethodInfo> Methods => _methods;

    /// <summary>The method named <paramref name="name"/>; an unknown name fails listing the known ones.</summary>
    public PruningMethodInfo Get(string name)
        => Find(name) ?? throw new LopperInputException($"unknown pruning method '{name}' (known: {string.Join(", ", _methods.Select(m => m.Name))})");

    /// <summary>The method named <paramref name="name"/>, or null.</summary>
    public PruningMethodInfo? Find(string name) => Array.Find(_methods, m => m.Name == name);

    /// <summary>This registry plus <paramref name="method"/> (for a program that brings its own method).</summary>
    public MethodRegistry With(PruningMethodInfo method) => new([.. _methods, method]);
}
