using System.Text.Json.Nodes;
using Lopper.Reporting;

namespace Lopper.Cli.Commands;

/// <summary>`lopper report RESULTS... --out DIR`: charts (SVG) and a table of every cell, as report.md and a self-contained report.html.</summary>
public static class ReportCommand
{
    private const string Usage = """
        lopper report RESULTS.json [MORE.json ...] --out DIR [--widths-run CELL] [--json]
          writes DIR/report.html (charts inline, no external files), DIR/report.md and the charts as
          DIR/*.svg: accuracy vs MACs kept, accuracy vs parameters kept, speed-up vs MACs kept, and with
          --widths-run the per-layer output widths of that cell against its source model.
          A results file may also be given as the experiment's folder (its results.json is read).
        """;

    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string> { "json", "help" });
        if (a.Flag("help")) { Console.WriteLine(Usage); return 0; }
        string outDir = a.Required("out");
        string? widths = a.Str("widths-run");
        bool json = a.Flag("json");
        a.EnsureAllUsed(positionalAllowed: int.MaxValue);
        if (a.Positional.Count == 0) throw new LopperInputException("give at least one results file (lopper report RESULTS.json --out DIR)");
        var files = new List<(ExperimentResults, string)>();
        foreach (var p in a.Positional)
        {
            string path = Directory.Exists(p) ? Path.Combine(p, "results.json") : p;
            files.Add((ResultsJson.Load(path), path));
        }
        var output = ReportWriter.Write(new ReportCells(files), outDir, widths);
        if (json)
        {
            var charts = new JsonArray();
            foreach (var c in output.Charts) charts.Add(Path.GetFullPath(c));
            Console.WriteLine(new JsonObject { ["html"] = Path.GetFullPath(output.Html), ["markdown"] = Path.GetFullPath(output.Markdown), ["charts"] = charts }
                .ToJsonString(new() { WriteIndented = true }));
        }
        else Console.WriteLine($"report: {output.Html} and {output.Markdown} ({output.Charts.Count} charts)");
        return 0;
    }
}
