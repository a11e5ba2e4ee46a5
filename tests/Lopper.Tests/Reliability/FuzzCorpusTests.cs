using Lopper.Fuzz;
using Lopper.Tests.Data;

namespace Lopper.Tests.Reliability;

/// <summary>
/// Issue 22: replays the fuzzing corpus (bench/fuzz saves one input per distinct outcome, plus every input that
/// once crashed a reader). Each must give success or a LopperInputException; anything else fails here.
/// </summary>
public class FuzzCorpusTests
{
    private static string CorpusRoot()
    {
        string dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "Lopper.slnx"))) dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("repository root not found");
        return Path.Combine(dir, "tests", "Lopper.Tests", "Reliability", "FuzzCorpus");
    }

    public static TheoryData<string> Readers() => new(FuzzTargets.Names);

    [Theory]
    [MemberData(nameof(Readers))]
    public void EveryCorpusInputIsAcceptedOrAnInputError(string reader)
    {
        var files = Directory.GetFiles(Path.Combine(CorpusRoot(), reader));
        Assert.NotEmpty(files);
        using var tmp = new TempDir();
        foreach (var f in files)
        {
            try
            {
                FuzzTargets.Run(reader, File.ReadAllBytes(f), tmp.Path);
            }
            catch (Exception e)
            {
                Assert.Fail($"{reader}/{Path.GetFileName(f)}: {e.GetType().Name}: {e.Message}");
            }
        }
    }
}
