namespace Lopper.Pruning.Snacs;

/// <summary>
/// Scores every (child group, parent group) connection of one layer pair by the conditional mutual information
/// I(X; Y | Z): X = the child group's activations, Y = the parent group's, Z = all other parent channels (spec §3.3).
/// </summary>
public interface ICmiEstimator
{
    /// <summary>Estimator name for records.</summary>
    string Name { get; }

    /// <summary>
    /// R[c, p] for child groups [childStarts[c], childStarts[c+1]) and parent groups likewise. Independent calls
    /// run in parallel over child groups; the result depends only on the inputs and <paramref name="seed"/>.
    /// <paramref name="progress"/> is called (from any thread) once per finished child group.
    /// </summary>
    double[,] ScorePair(ActivationMatrix parent, ActivationMatrix child, int[] parentStarts, int[] childStarts, ulong seed, Action? progress = null);
}
