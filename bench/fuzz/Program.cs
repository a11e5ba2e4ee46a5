using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using Lopper.Fuzz;

// Usage: dotnet run -c Release --project bench/fuzz -- [seconds-per-reader (default 60)] [reader ...]
// Every input must give success or a LopperInputException within 5 s, allocating at most 256 MB; anything else is
// saved under bench/fuzz/crashes/READER/ and reported. Inputs with an outcome not seen before are added to the corpus
// (tests/Lopper.Tests/Reliability/FuzzCorpus/READER/, at most 60 per reader), which CI replays.
int seconds = args.Length > 0 && int.TryParse(args[0], out int s) ? s : 60;
var readers = args.Length > 1 ? args[1..] : FuzzTargets.Names;
string root = AppContext.BaseDirectory;
while (!File.Exists(Path.Combine(root, "Lopper.slnx"))) root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("run inside the repository");
Lopper.Graph.Model.MaxParameterBytes = FuzzTargets.ParameterBudget;
// Rounds draw plans from seed LOPPER_FUZZ_SEED + round; give each campaign its own so campaigns do not repeat each other.
ulong baseSeed = ulong.TryParse(Environment.GetEnvironmentVariable("LOPPER_FUZZ_SEED"), out var bs) ? bs : 0x5EED;
var summary = new JsonObject { ["seconds_per_reader"] = seconds, ["seed"] = Environment.GetEnvironmentVariable("LOPPER_FUZZ_SEED") ?? "0x5EED", ["started_utc"] = DateTime.UtcNow.ToString("o") };
int failures = 0;
foreach (var reader in readers)
{
    var seeds = Seeds.For(reader, root);
    string corpus = Path.Combine(root, "tests", "Lopper.Tests", "Reliability", "FuzzCorpus", reader);
    Directory.CreateDirectory(corpus);
    string tmp = Directory.CreateTempSubdirectory("lopper-fuzz-").FullName;
    var outcomes = new Dictionary<string, int>();
    foreach (var f in Directory.GetFiles(corpus)) outcomes.TryAdd(Signature(FuzzTargets.Run(reader, File.ReadAllBytes(f), tmp)), 0);
    int saved = Directory.GetFiles(corpus).Length;
    long tried = 0, ok = 0, rejected = 0, bad = 0, slow = 0, heavy = 0;
    double maxMs = 0; long maxAlloc = 0;
    var gen = Mutators.Plans(seeds.Count);
    var sw = Stopwatch.StartNew();
    ulong round = 0;
    while (sw.Elapsed.TotalSeconds < seconds)
    {
        var plans = Gen.Sample(gen, 30, new Rnd(baseSeed + round++), 100);
        foreach (var plan in plans)
        {
            var input = Mutators.Apply(plan, seeds, structured: true);
            tried++;
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            var t = Stopwatch.StartNew();
            string outcome;
            try
            {
                outcome = FuzzTargets.Run(reader, input, tmp);
            }
            catch (Exception e)
            {
                bad++;
                failures++;
                string dir = Path.Combine(root, "bench", "fuzz", "crashes", reader);
                Directory.CreateDirectory(dir);
                string file = Path.Combine(dir, $"{e.GetType().Name}-{tried}.bin");
                File.WriteAllBytes(file, input);
                Console.Error.WriteLine($"{reader}: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")} -> {file}");
                continue;
            }
            double ms = t.Elapsed.TotalMilliseconds;
            long alloc = GC.GetAllocatedBytesForCurrentThread() - a0;
            maxMs = Math.Max(maxMs, ms);
            maxAlloc = Math.Max(maxAlloc, alloc);
            if (ms > 5000) { slow++; failures++; Console.Error.WriteLine($"{reader}: input {tried} took {ms:F0} ms"); }
            if (alloc > 256L << 20) { heavy++; failures++; Console.Error.WriteLine($"{reader}: input {tried} allocated {alloc >> 20} MB"); }
            if (outcome.StartsWith("ok", StringComparison.Ordinal)) ok++; else rejected++;
            string sig = Signature(outcome);
            if (outcomes.TryAdd(sig, 1) && saved < 60 && input.Length <= 64 * 1024)
            {
                File.WriteAllBytes(Path.Combine(corpus, $"{saved:D3}.bin"), input);
                saved++;
            }
        }
    }
    Directory.Delete(tmp, recursive: true);
    var r = new JsonObject
    {
        ["inputs"] = tried, ["accepted"] = ok, ["rejected_input_error"] = rejected, ["other_exceptions"] = bad,
        ["slow_over_5s"] = slow, ["over_256MB"] = heavy, ["distinct_outcomes"] = outcomes.Count, ["corpus_files"] = saved,
        ["max_ms"] = Math.Round(maxMs, 1), ["max_alloc_mb"] = Math.Round(maxAlloc / 1048576.0, 1), ["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 1),
    };
    summary[reader] = r;
    Console.Error.WriteLine($"{reader}: {r.ToJsonString()}");
}
Console.WriteLine(summary.ToJsonString(new() { WriteIndented = true }));
return failures == 0 ? 0 : 1;

// An outcome with numbers, quoted names and paths blanked, so the corpus keeps one input per kind of result.
static string Signature(string outcome)
{
    var s = Regex.Replace(outcome, "'[^']*'|\"[^\"]*\"|\\[[^\\]]*\\]|-?\\d+(\\.\\d+)?(e[+-]?\\d+)?", "#");
    s = Regex.Replace(s, "(/[^ :]*)+", "PATH");
    return s.Length > 90 ? s[..90] : s;
}
