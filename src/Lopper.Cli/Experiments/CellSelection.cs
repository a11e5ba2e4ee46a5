using System.IO.Enumeration;

namespace Lopper.Cli.Experiments;

/// <summary>
/// The cells an invocation of `lopper experiment --cells` works on: ids matched by comma-separated patterns in which
/// `*` stands for any run of characters and `?` for one (`snacs-*`, `*-target-macs-0.3-*`). The grid's other cells keep their
/// records; results.json still lists them all.
/// </summary>
public sealed class CellSelection
{
    private readonly string[] _patterns;

    private CellSelection(string[] patterns) => _patterns = patterns;

    /// <summary>Parses the value of --cells (comma-separated, no empty pattern).</summary>
    public static CellSelection Parse(string value)
    {
        var patterns = value.Split(',', StringSplitOptions.TrimEntries);
        if (Array.Exists(patterns, p => p.Length == 0))
            throw new LopperInputException($"--cells: '{value}' has an empty pattern (give cell ids or patterns with *, separated by commas)");
        return new CellSelection(patterns);
    }

    /// <summary>Whether <paramref name="id"/> matches any pattern.</summary>
    public bool Matches(string id) => Array.Exists(_patterns, p => Glob(p, id));

    /// <summary>
    /// The cells that match, in plan order. A pattern that matches no cell is an input error naming it, so that a
    /// typo does not pass as "nothing to do".
    /// </summary>
    public IReadOnlyList<PlannedCell> Apply(IReadOnlyList<PlannedCell> cells, string experiment)
    {
        foreach (var pattern in _patterns)
            if (!cells.Any(c => Glob(pattern, c.Id)))
                throw new LopperInputException($"--cells: '{pattern}' matches no cell of experiment {experiment} (its cells: {string.Join(", ", cells.Select(c => c.Id))})");
        return cells.Where(c => Matches(c.Id)).ToList();
    }

    // The BCL's file-name wildcards: `*` any run of characters, `?` one character; cell ids hold neither.
    private static bool Glob(string pattern, string id) => FileSystemName.MatchesSimpleExpression(pattern, id, ignoreCase: false);
}
