namespace Lopper.Reporting;

/// <summary>A cell with the results file it came from and the id it is shown under.</summary>
/// <param name="Cell">The cell.</param>
/// <param name="Results">Its results file.</param>
/// <param name="BaseDir">The folder of its results file (the cell's paths are relative to it).</param>
/// <param name="ShownId">Its id, prefixed with the experiment name when several results files are merged.</param>
public sealed record ReportCell(CellResult Cell, ExperimentResults Results, string BaseDir, string ShownId);

/// <summary>The cells of one or more results files in order, with one style per method label.</summary>
public sealed class ReportCells
{
    /// <summary>Every cell, in file order then grid order.</summary>
    public IReadOnlyList<ReportCell> All { get; }
    /// <summary>The results files with their folders.</summary>
    public IReadOnlyList<(ExperimentResults Results, string BaseDir)> Files { get; }
    /// <summary>Method labels in order of first appearance.</summary>
    public IReadOnlyList<string> Labels => _labels;
    private readonly List<string> _labels;

    /// <summary>Merges results files given as (results, path of the file).</summary>
    public ReportCells(IReadOnlyList<(ExperimentResults Results, string Path)> files)
    {
        if (files.Count == 0) throw new LopperInputException("give at least one results file");
        bool prefix = files.Count > 1;
        var all = new List<ReportCell>();
        var labels = new List<string>();
        var fs = new List<(ExperimentResults, string)>();
        foreach (var (r, path) in files)
        {
            string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
            fs.Add((r, dir));
            foreach (var c in r.Cells)
            {
                all.Add(new ReportCell(c, r, dir, prefix ? $"{r.Name}/{c.Id}" : c.Id));
                if (!labels.Contains(c.Label)) labels.Add(c.Label);
            }
        }
        All = all;
        Files = fs;
        _labels = labels;
    }

    /// <summary>The style of a method label: fixed by its first appearance, so it is the same in every chart.</summary>
    public SeriesStyle StyleOf(string label) => SeriesStyle.ForIndex(_labels.IndexOf(label) is int i and >= 0 ? i : _labels.Count);

    /// <summary>Finds a cell by its shown id (or its bare id when that is unique).</summary>
    public ReportCell Find(string id)
    {
        var hit = All.FirstOrDefault(c => c.ShownId == id);
        if (hit is not null) return hit;
        var bare = All.Where(c => c.Cell.Id == id).ToList();
        if (bare.Count == 1) return bare[0];
        throw new LopperInputException(bare.Count > 1
            ? $"--widths-run {id}: several results files have that cell; prefix it with the experiment name (e.g. {bare[0].ShownId})"
            : $"--widths-run {id}: no such cell (known: {string.Join(", ", All.Select(c => c.ShownId))})");
    }
}
