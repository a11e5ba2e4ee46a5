namespace Lopper.Pruning.Snacs;

/// <summary>Which child groups the sensitivity rule exempts from pruning (spec §6, §12 item 6).</summary>
public enum SensitivityMode
{
    /// <summary>No protection.</summary>
    None,
    /// <summary>Protect the groups with the lowest ψ, as the released code's ascending sort does.</summary>
    Low,
    /// <summary>Protect the groups with the highest ψ: those carrying most of the next layer's weight (the paper's wording).</summary>
    High,
}

/// <summary>
/// SNACS sensitivity (spec §6): ψ of a child group = the mean, over the filters g of the layers that read the child,
/// of the share of g's normalised incoming weight that comes from the group's filters. A fraction of child groups,
/// ranked by ψ, keep all their incoming connections.
/// </summary>
public static class Sensitivity
{
    /// <summary>
    /// ψ per child group from the normalised weights of every reader of the child's channels (each
    /// rows × <paramref name="childChannels"/>, row-major), or null when nothing reads them with weights (classifier).
    /// </summary>
    public static double[]? Psi(IReadOnlyList<(double[] Normalised, int Rows)> readers, int childChannels, int[] childStarts)
    {
        if (readers.Count == 0) return null;
        int gc = childStarts.Length - 1;
        var psi = new double[gc];
        long rows = 0;
        foreach (var (w, n) in readers)
            for (int g = 0; g < n; g++)
            {
                var row = w.AsSpan(g * childChannels, childChannels);
                double total = 0;
                foreach (var v in row) total += v;
                if (total <= 0) continue;
                for (int c = 0; c < gc; c++)
                {
                    double share = 0;
                    for (int i = childStarts[c]; i < childStarts[c + 1]; i++) share += row[i];
                    psi[c] += share / total;
                }
                rows++;
            }
        if (rows > 0) for (int c = 0; c < gc; c++) psi[c] /= rows;
        return psi;
    }

    /// <summary>
    /// Protected child groups: the first round(fraction·G) in ascending (Low) or descending (High) order of ψ, ties by
    /// index. Without ψ (no following layer) nothing is protected: the released code would protect the lowest-indexed
    /// groups there, which is an arbitrary choice when every ψ is equal.
    /// </summary>
    public static bool[] Protected(double[]? psi, int groups, SensitivityMode mode, double fraction)
    {
        var prot = new bool[groups];
        if (psi is null || mode == SensitivityMode.None || fraction <= 0) return prot;
        int count = Math.Min(groups, (int)Math.Round(fraction * groups, MidpointRounding.AwayFromZero));
        var order = Enumerable.Range(0, groups).OrderBy(i => mode == SensitivityMode.Low ? psi[i] : -psi[i]).ThenBy(i => i).ToArray();
        for (int k = 0; k < count; k++) prot[order[k]] = true;
        return prot;
    }
}
