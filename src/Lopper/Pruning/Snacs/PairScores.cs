namespace Lopper.Pruning.Snacs;

/// <summary>A scored layer pair: its groups and ACMI matrix S[c, p], with what the mask step needs.</summary>
public sealed class PairScores
{
    /// <summary>The pair.</summary>
    public required LayerPair Pair { get; init; }
    /// <summary>Parent group boundaries (G_P + 1 entries).</summary>
    public required int[] ParentStarts { get; init; }
    /// <summary>Child group boundaries (G_C + 1 entries).</summary>
    public required int[] ChildStarts { get; init; }
    /// <summary>ACMI scores, G_C × G_P.</summary>
    public required double[,] Scores { get; init; }
    /// <summary>Upper pruning limit UL (a fraction of the pair's connections).</summary>
    public double UpperLimit { get; set; } = 1;
    /// <summary>Bandwidth factor γ the hash estimator chose for this pair, or null (other estimators).</summary>
    public double? Gamma { get; init; }
    /// <summary>Child groups exempt from pruning.</summary>
    public bool[]? Protected { get; set; }

    /// <summary>Number of child groups.</summary>
    public int ChildGroups => ChildStarts.Length - 1;
    /// <summary>Number of parent groups.</summary>
    public int ParentGroups => ParentStarts.Length - 1;
}
