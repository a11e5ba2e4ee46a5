using System.CommandLine;
using System.Text.Json.Nodes;
using Lopper.Reporting;

namespace Lopper.Cli.Commands;

/// <summary>`lopper report RESULTS... --out DIR`: charts (SVG) and a table of every cell, as report.md and a self-contained report.html.</summary>
public static class ReportCommand
{
    private static readonly Argument<string[]> Results = new("RESULTS.json") { Description = "results files, or experiment folders (their results.json is read)", Arity = ArgumentArity.ZeroOrMore };
    private static readonly Option<string> Out = Flags.Required("--out", "DIR", "the folder for report.html, report.md and the charts");
    private static readonly Option<string?> WidthsRun = Flags.Text("--widths-run", "CELL", "also chart the per-layer output widths of this cell against its source model");
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("report",
            "HTML/Markdown report with SVG charts from experiment results")
        {
            Results, Out, WidthsRun, Json,
        };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult parse)
    {
        string outDir = parse.GetValue(Out)!;
        string? widths = parse.GetValue(WidthsRun);
        bool json = parse.GetValue(Json);
        var given = parse.GetValue(Results) ?? [];
        if (given.Length == 0) throw new LopperInputException("give at least one results file (lopper report RESULTS.json --out DIR)");
        var files = new List<(ExperimentResults, string)>();
        foreach (var p in given)
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
