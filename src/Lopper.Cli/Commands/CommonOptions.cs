using System.CommandLine;
using Lopper.Data;
using Lopper.Training;

namespace Lopper.Cli.Commands;

/// <summary>Set-up shared by the commands that touch data or threads.</summary>
public static class CommonOptions
{
    /// <summary>Applies --threads (default: the machine's cores; the flag itself caps it at the cores).</summary>
    public static void ApplyThreads(ParseResult p, Option<int?> threads) => Parallelism.Threads = p.GetValue(threads) ?? Environment.ProcessorCount;

    /// <summary>The command line as run.json records it ("lopper prune l1 --from ...").</summary>
    public static string CommandLine(ParseResult p) => "lopper " + string.Join(' ', p.Tokens.Select(t => t.Value));

    /// <summary>Largest batch the commands accept: beyond it activations alone outgrow any machine this runs on.</summary>
    public const int MaxBatch = 4096;

    /// <summary>Largest buffer (elements) a benchmark may allocate: 2^28 floats, 1 GiB.</summary>
    public const long MaxBufferElements = 1L << 28;

    /// <summary>Refuses sizes whose buffers would overflow or exceed <see cref="MaxBufferElements"/> (products computed in 64 bits).</summary>
    public static void CheckBufferSize(string flags, params long[] elements)
    {
        foreach (long n in elements)
            if (n > MaxBufferElements)
                throw new LopperInputException($"{flags}: a buffer of {n} elements is larger than the limit of {MaxBufferElements} (1 GiB); use smaller sizes");
    }

    /// <summary>Resolves --dataset/--data; the embedded-subset notice goes to stderr once per process.</summary>
    public static DataSplits LoadData(string dataset, string? dataDir, DataOptions? options = null)
        => new Lopper.Runs.DataSpec { Dataset = dataset, Dir = dataDir, Options = options ?? new DataOptions() }.Load(s => Console.Error.WriteLine(s));
}
