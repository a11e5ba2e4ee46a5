using System.Net;
using System.Text;
using Lopper.Io;

namespace Lopper.Reporting;

/// <summary>What <see cref="ReportWriter.Write"/> produced.</summary>
/// <param name="Markdown">Path of report.md.</param>
/// <param name="Html">Path of report.html.</param>
/// <param name="Charts">Paths of the SVG files.</param>
public sealed record ReportOutput(string Markdown, string Html, IReadOnlyList<string> Charts);

/// <summary>
/// Writes report.md (charts as linked SVG files) and report.html (the same charts inline, styles inline: no
/// external scripts or fonts, so the page is one self-contained file) from one or more results files.
/// </summary>
public static class ReportWriter
{
    /// <summary>Writes the report into <paramref name="outDir"/>; <paramref name="widthsRun"/> names the cell whose layer widths are charted.</summary>
    public static ReportOutput Write(ReportCells cells, string outDir, string? widthsRun)
    {
        Directory.CreateDirectory(outDir);
        var charts = new List<(string File, string Caption, string Svg)>
        {
            ("accuracy-vs-macs.svg", "Top-1 accuracy after fine-tuning against MACs kept", ReportCharts.AccuracyVsMacs(cells).Render()),
            ("accuracy-vs-params.svg", "Top-1 accuracy after fine-tuning against parameters kept", ReportCharts.AccuracyVsParams(cells).Render()),
            ("speedup-vs-macs.svg", "Measured speed-up over the dense source against MACs kept", ReportCharts.SpeedupVsMacs(cells).Render()),
        };
        if (widthsRun is not null)
        {
            var cell = cells.Find(widthsRun);
            if (!cell.Cell.IsOk || cell.Cell.Model is null || cell.Cell.Source is null)
                throw new LopperInputException($"--widths-run {widthsRun}: the cell has no model to compare (status {cell.Cell.Status})");
            var widths = LayerWidths.Compare(Path.Combine(cell.BaseDir, cell.Cell.Source, ModelStore.GraphFile), Path.Combine(cell.BaseDir, cell.Cell.Model, ModelStore.GraphFile));
            charts.Add(($"widths-{Safe(cell.ShownId)}.svg", $"Per-layer output widths of {cell.ShownId} against its source", ReportCharts.Widths(cells, cell, widths).Render()));
        }
        var paths = new List<string>();
        foreach (var (file, _, svg) in charts)
        {
            var p = Path.Combine(outDir, file);
            AtomicFile.WriteText(p, svg + "\n");
            paths.Add(p);
        }
        var md = Path.Combine(outDir, "report.md");
        var html = Path.Combine(outDir, "report.html");
        AtomicFile.WriteText(md, Markdown(cells, charts));
        AtomicFile.WriteText(html, Html(cells, charts));
        return new ReportOutput(md, html, paths);
    }

    private static string Markdown(ReportCells cells, List<(string File, string Caption, string Svg)> charts)
    {
        var sb = new StringBuilder();
        sb.Append("# Pruning report: ").Append(string.Join(", ", cells.Files.Select(f => f.Results.Name))).Append("\n\n");
        foreach (var line in Summary(cells)) sb.Append("- ").Append(line).Append('\n');
        sb.Append('\n');
        foreach (var (file, caption, _) in charts) sb.Append($"![{caption}]({file})\n\n");
        sb.Append("## Headline\n\n");
        AppendTable(sb, ReportTable.HeadlineHeaders, ReportTable.HeadlineRows(cells));
        sb.Append("\n## Means over seeds\n\n");
        AppendTable(sb, ReportTable.MeansHeaders, ReportTable.MeansRows(cells));
        sb.Append("\n## Cells\n\n");
        AppendTable(sb, ReportTable.Headers, ReportTable.Rows(cells));
        return sb.ToString();
    }

    private static void AppendTable(StringBuilder sb, IReadOnlyList<string> headers, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        sb.Append("| ").Append(string.Join(" | ", headers)).Append(" |\n");
        sb.Append('|').Append(string.Concat(headers.Select(_ => "---|"))).Append('\n');
        foreach (var row in rows)
            sb.Append("| ").Append(string.Join(" | ", row.Select(c => c.Replace("|", "\\|").Replace('\n', ' ')))).Append(" |\n");
    }

    // A heading and a table; rows for which failed says so get the "failed" class.
    private static void AppendHtmlTable(StringBuilder sb, string heading, IReadOnlyList<string> headers, IReadOnlyList<IReadOnlyList<string>> rows,
        Func<int, bool>? failed = null)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        sb.Append("<h2>").Append(E(heading)).Append("</h2>\n<table>\n<thead><tr>");
        foreach (var h in headers) sb.Append("<th>").Append(E(h)).Append("</th>");
        sb.Append("</tr></thead>\n<tbody>\n");
        for (int i = 0; i < rows.Count; i++)
        {
            sb.Append(failed?.Invoke(i) == true ? "<tr class=\"failed\">" : "<tr>");
            foreach (var c in rows[i]) sb.Append("<td>").Append(E(c)).Append("</td>");
            sb.Append("</tr>\n");
        }
        sb.Append("</tbody>\n</table>\n");
    }

    private static string Html(ReportCells cells, List<(string File, string Caption, string Svg)> charts)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        var sb = new StringBuilder();
        string title = "Pruning report: " + string.Join(", ", cells.Files.Select(f => f.Results.Name));
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").Append(E(title)).Append("</title>\n<style>\n")
          .Append("body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}figure{margin:16px 0}figcaption{color:#555;font-size:13px}\n")
          .Append("table{border-collapse:collapse;font-size:12px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}\n")
          .Append("th{background:#f2f2f2}td:nth-child(-n+3),td:last-child{text-align:left}tr.failed td{background:#fdecea}\n")
          .Append("</style>\n</head>\n<body>\n<h1>").Append(E(title)).Append("</h1>\n<ul>\n");
        foreach (var line in Summary(cells)) sb.Append("<li>").Append(E(line)).Append("</li>\n");
        sb.Append("</ul>\n");
        foreach (var (_, caption, svg) in charts)
            sb.Append("<figure>\n").Append(svg).Append("\n<figcaption>").Append(E(caption)).Append("</figcaption>\n</figure>\n");
        AppendHtmlTable(sb, "Headline", ReportTable.HeadlineHeaders, ReportTable.HeadlineRows(cells));
        AppendHtmlTable(sb, "Means over seeds", ReportTable.MeansHeaders, ReportTable.MeansRows(cells));
        AppendHtmlTable(sb, "Cells", ReportTable.Headers, ReportTable.Rows(cells), i => !cells.All[i].Cell.IsOk);
        sb.Append("</body>\n</html>\n");
        return sb.ToString();
    }

    private static IEnumerable<string> Summary(ReportCells cells)
    {
        foreach (var (r, _) in cells.Files)
        {
            int ok = r.Cells.Count(c => c.IsOk), failed = r.Cells.Count - ok;
            var b = r.Baseline;
            string baseline = b is null ? "no baseline" :
                $"baseline {b.Model ?? "?"} ({(b.Trained ? "trained by the experiment" : "from " + b.Dir)}): accuracy {ReportTable.Percent(b.Accuracy)}%, {ReportTable.Count(b.Params)} params, {ReportTable.Count(b.Macs)} MACs";
            // Latencies timed again at another thread count than the runs' say so.
            var retimed = r.Cells.Where(c => c.IsOk && c.LatencyThreads is int t && t != r.Threads).Select(c => c.LatencyThreads!.Value).ToList();
            string timed = retimed.Count == 0 ? "" : $" (latencies of {retimed.Count} cell(s) at {string.Join(", ", retimed.Distinct().Order())} thread(s))";
            yield return $"{r.Name}: dataset {r.Dataset ?? "?"}, {r.Threads} thread(s){timed}, {ok} cell(s) ok, {failed} failed; {baseline}";
        }
    }

    private static string Safe(string id)
    {
        var sb = new StringBuilder();
        foreach (char ch in id) sb.Append(char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.' ? ch : '_');
        return sb.ToString();
    }
}
