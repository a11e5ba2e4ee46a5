using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Lopper.Reporting;
using Lopper.Tests.Cli;
using Lopper.Tests.Data;

using static Lopper.Tests.Cli.CliHarness;

namespace Lopper.Tests.Reporting;

/// <summary>`lopper report` on a small results file written here: well-formed SVG, and the table shows the file's numbers.</summary>
[Collection(ConsoleCollection.Name)]
public class ReportTests
{
    private static CellResult Cell(string id, string label, string budget, double acc, long paramsAfter, long macsAfter, double latAfter, int seed = 0) => new()
    {
        Id = id, Label = label, Method = label, Kind = "prune", BudgetFlag = "target-macs", Budget = budget, Seed = seed, Epochs = 2,
        Status = CellResult.Ok, Dir = "cells/" + id, Source = "baseline", Model = "cells/" + id,
        AccuracyBefore = 0.9012, AccuracyPruned = acc - 0.2, AccuracyFinetuned = acc,
        ParamsBefore = 61706, ParamsAfter = paramsAfter, MacsBefore = 416520, MacsAfter = macsAfter,
        LatencyBatch = 128, LatencyMsBefore = 12.5, LatencyMsAfter = latAfter,
        Seconds = new Dictionary<string, double> { ["measure"] = 1.2, ["prune"] = 0.5, ["finetune"] = 10, ["total"] = 11.7 },
    };

    private static ExperimentResults Sample() => new()
    {
        Name = "sample", Dataset = "fashion-mnist", Threads = 2,
        Baseline = new BaselineResult { Dir = "baseline", Trained = true, Model = "lenet5", Accuracy = 0.9012, Params = 61706, Macs = 416520, Epochs = 5 },
        Cells =
        [
            Cell("l1-target-macs-0.5-s0-ft2", "l1", "0.5", 0.8876, 30853, 208260, 7.25),
            Cell("l1-target-macs-0.3-s0-ft2", "l1", "0.3", 0.8511, 18512, 124956, 5.5),
            Cell("random-target-macs-0.5-s0-ft2", "random", "0.5", 0.8633, 31002, 209111, 7.5),
            new CellResult
            {
                Id = "snacs-target-macs-0.5-s0-ft2", Label = "snacs", Method = "snacs", Kind = "prune", BudgetFlag = "target-macs", Budget = "0.5",
                Status = CellResult.Failed, Error = "unknown pruning method 'snacs' (known: l1, random)", Dir = "cells/snacs-target-macs-0.5-s0-ft2",
            },
        ],
    };

    [Fact]
    public void MeansOverSeedsAverageEachMethodAndBudgetsFinishedCells()
    {
        var r = Sample();
        r = r with { Cells = [.. r.Cells, Cell("l1-target-macs-0.5-s1-ft2", "l1", "0.5", 0.8924, 30853, 208260, 6.25, seed: 1)] };
        var rows = ReportTable.MeansRows(new ReportCells([(r, "results.json")]));
        // l1 0.5 (two seeds), l1 0.3, random 0.5; the failed SNACS cell has no row.
        Assert.Equal(["l1|target-macs 0.5|2", "l1|target-macs 0.3|1", "random|target-macs 0.5|1"], rows.Select(x => $"{x[0]}|{x[1]}|{x[3]}"));
        var l1 = rows[0];
        Assert.Equal("89.00", l1[6]);                                // (88.76 + 89.24) / 2
        Assert.Equal("88.76 (s0) / 89.24 (s1)", l1[7]);
        Assert.Equal("-1.12", l1[8]);                                // 89.00 - 90.12
        Assert.Equal("1.86x", l1[9]);                                // (12.5/7.25 + 12.5/6.25) / 2
        Assert.Equal("0.93", l1[10]);                                // 1.86 x 208260/416520
        Assert.Equal("50.00", l1[4]);
    }

    [Fact]
    public void SummarySaysWhichLatenciesWereTimedAtAnotherThreadCount()
    {
        using var dir = new TempDir();
        var r = Sample();
        var resultsPath = dir.File("results.json");
        ResultsJson.Save(r, resultsPath);
        Assert.True(Run("report", resultsPath, "--out", dir.File("same")).Code == 0);
        Assert.Contains("sample: dataset fashion-mnist, 2 thread(s), 3 cell(s) ok", File.ReadAllText(Path.Combine(dir.File("same"), "report.md")));
        // Two cells re-timed at 1 thread, one at the runs' 2: the summary names the first two.
        r = r with { Cells = [r.Cells[0] with { LatencyThreads = 1 }, r.Cells[1] with { LatencyThreads = 1 }, r.Cells[2] with { LatencyThreads = 2 }, r.Cells[3]] };
        ResultsJson.Save(r, resultsPath);
        Assert.Equal(1, ResultsJson.Load(resultsPath).Cells[0].LatencyThreads);
        Assert.True(Run("report", resultsPath, "--out", dir.File("other")).Code == 0);
        Assert.Contains("sample: dataset fashion-mnist, 2 thread(s) (latencies of 2 cell(s) at 1 thread(s)), 3 cell(s) ok",
            File.ReadAllText(Path.Combine(dir.File("other"), "report.md")));
    }

    [Fact]
    public void ReportRendersWellFormedChartsAndTheFileNumbers()
    {
        using var dir = new TempDir();
        var resultsPath = dir.File("results.json");
        ResultsJson.Save(Sample(), resultsPath);
        var outDir = dir.File("report");
        var (code, _, err) = Run("report", resultsPath, "--out", outDir);
        Assert.True(code == 0, err);

        var svgs = Directory.GetFiles(outDir, "*.svg");
        Assert.Equal(3, svgs.Length);
        Assert.Contains(svgs, f => Path.GetFileName(f) == "speedup-vs-macs.svg");
        foreach (var f in svgs) Assert.Equal(SvgBuilder.Ns + "svg", XDocument.Parse(File.ReadAllText(f)).Root!.Name);

        // The HTML carries the same charts inline, each well-formed, and loads nothing from outside.
        string html = File.ReadAllText(Path.Combine(outDir, "report.html"));
        var inline = Regex.Matches(html, "<svg[\\s\\S]*?</svg>");
        Assert.Equal(3, inline.Count);
        foreach (Match m in inline) XDocument.Parse(m.Value);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<link", html);
        Assert.DoesNotContain("src=", html);

        // Legends: one entry per method and the baseline; a failed cell is no point but is in the table.
        var acc = XDocument.Parse(File.ReadAllText(Path.Combine(outDir, "accuracy-vs-macs.svg")));
        var texts = acc.Descendants(SvgBuilder.Ns + "text").Select(t => t.Value).ToList();
        Assert.Contains("l1", texts);
        Assert.Contains("random", texts);
        Assert.Contains("baseline (dense)", texts);
        Assert.Contains("MACs kept (% of the dense model)", texts);
        var tips = acc.Descendants(SvgBuilder.Ns + "title").Select(t => t.Value).ToList();
        Assert.Contains(tips, t => t.StartsWith("l1-target-macs-0.3-s0-ft2: (30.00, 85.11)", StringComparison.Ordinal));
        Assert.DoesNotContain(tips, t => t.StartsWith("snacs", StringComparison.Ordinal));

        // Every number in the Markdown table equals the one in the results file (read back as plain JSON).
        var file = JsonNode.Parse(File.ReadAllText(resultsPath))!["cells"]!.AsArray();
        var md = File.ReadAllLines(Path.Combine(outDir, "report.md"));
        int header = Array.FindIndex(md, l => l.StartsWith("| cell |", StringComparison.Ordinal));
        Assert.True(header >= 0);
        var cols = Split(md[header]);
        for (int i = 0; i < file.Count; i++)
        {
            var c = file[i]!;
            var row = Split(md[header + 2 + i]);
            string Col(string name) => row[cols.IndexOf(name)];
            Assert.Equal((string)c["id"]!, Col("cell"));
            Assert.Equal((string)c["status"]!, Col("status"));
            if ((string)c["status"]! == "failed")
            {
                Assert.Equal("-", Col("acc. fine-tuned (%)"));
                Assert.Contains("unknown pruning method 'snacs'", Col("error"));
                continue;
            }
            Assert.Equal(P((double)c["accuracy_before"]!), Col("acc. before (%)"));
            Assert.Equal(P((double)c["accuracy_pruned"]!), Col("acc. pruned (%)"));
            Assert.Equal(P((double)c["accuracy_finetuned"]!), Col("acc. fine-tuned (%)"));
            Assert.Equal(((long)c["params_after"]!).ToString("N0", CultureInfo.InvariantCulture), Col("params after"));
            Assert.Equal(((long)c["macs_after"]!).ToString("N0", CultureInfo.InvariantCulture), Col("MACs after"));
            Assert.Equal(P((double)(long)c["macs_after"]! / (long)c["macs_before"]!), Col("MACs kept (%)"));
            Assert.Equal(P((double)(long)c["params_after"]! / (long)c["params_before"]!), Col("params kept (%)"));
            Assert.Equal(((double)c["latency_ms_after"]!).ToString("F2", CultureInfo.InvariantCulture), Col("latency after (ms)"));
            Assert.Equal("measure 1.2, prune 0.5, finetune 10.0, total 11.7", Col("seconds per phase"));
        }
        Assert.Equal(header + 2 + file.Count, md.Length);

        // The headline table: one row per finished cell, its numbers from the same file.
        int head = Array.FindIndex(md, l => l.StartsWith("| method | budget |", StringComparison.Ordinal));
        Assert.True(head >= 0);
        var hcols = Split(md[head]);
        var ok = file.Where(c => (string)c!["status"]! == "ok").ToList();
        for (int i = 0; i < ok.Count; i++)
        {
            var c = ok[i]!;
            var row = Split(md[head + 2 + i]);
            string Col(string name) => row[hcols.IndexOf(name)];
            Assert.Equal(P((double)c["accuracy_finetuned"]!), Col("accuracy (%)"));
            Assert.Equal(((double)c["accuracy_finetuned"]! * 100 - (double)c["accuracy_before"]! * 100).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture), Col("vs dense (points)"));
            Assert.Equal(P((double)(long)c["macs_after"]! / (long)c["macs_before"]!), Col("MACs kept (%)"));
            Assert.Equal(((double)c["latency_ms_before"]! / (double)c["latency_ms_after"]!).ToString("F2", CultureInfo.InvariantCulture) + "x", Col("speed-up"));
        }
        Assert.False(md[head + 2 + ok.Count].StartsWith("| ", StringComparison.Ordinal), "one headline row per finished cell");
    }

    [Fact]
    public void BadResultsFieldIsNamed()
    {
        using var dir = new TempDir();
        var path = dir.File("results.json");
        var o = ResultsJson.ToJson(Sample());
        o["cells"]![1]!["macs_after"] = "many";
        File.WriteAllText(path, o.ToJsonString());
        var (code, _, err) = Run("report", path, "--out", dir.File("r"));
        Assert.Equal(2, code);
        Assert.Contains("cells[1].macs_after", err);
        Assert.Contains("results.json", err);
    }

    [Fact]
    public void ResultsRoundTrip()
    {
        var r = Sample();
        var back = ResultsJson.Parse(ResultsJson.Serialize(r), "mem");
        Assert.Equal(r.Cells.Count, back.Cells.Count);
        for (int i = 0; i < r.Cells.Count; i++)
        {
            var (a, b) = (r.Cells[i], back.Cells[i]);
            Assert.Equal(a with { Seconds = b.Seconds, Args = b.Args }, b);
            Assert.Equal(a.Seconds, b.Seconds);
        }
        Assert.Equal(r.Baseline, back.Baseline);
    }

    private static string P(double fraction) => (fraction * 100).ToString("F2", CultureInfo.InvariantCulture);

    private static List<string> Split(string mdRow) => mdRow.Trim().Trim('|').Split(" | ").Select(s => s.Trim()).ToList();
}
