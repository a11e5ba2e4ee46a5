using System.IO.Compression;
using System.Text;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Models;
using Lopper.Tensors;

namespace Lopper.Fuzz;

/// <summary>Valid inputs the mutators start from (plus whatever corpus files already exist).</summary>
public static class Seeds
{
    /// <summary>Seed inputs for a reader.</summary>
    public static List<byte[]> For(string target, string repoRoot)
    {
        string tmp = Directory.CreateTempSubdirectory("lopper-fuzz-seed-").FullName;
        try
        {
            var seeds = target switch
            {
                "safetensors" => SafeTensorSeeds(tmp),
                "modeljson" => new[] { "lenet5", "resnet20", "vgg11" }.Select(m => Encoding.UTF8.GetBytes(ModelJson.Serialize(ModelZoo.Create(m, m == "lenet5" ? [1, 28, 28] : [3, 32, 32], 10)))).ToList(),
                "idx" => IdxSeeds(),
                "yaml" => YamlSeeds(repoRoot),
                _ => throw new ArgumentException(target),
            };
            var corpus = Path.Combine(repoRoot, "tests", "Lopper.Tests", "Reliability", "FuzzCorpus", target);
            if (Directory.Exists(corpus)) seeds.AddRange(Directory.GetFiles(corpus).Order(StringComparer.Ordinal).Select(File.ReadAllBytes));
            return seeds;
        }
        finally { Directory.Delete(tmp, recursive: true); }
    }

    private static List<byte[]> SafeTensorSeeds(string tmp)
    {
        var list = new List<byte[]>();
        var model = new Model(ModelZoo.Create("lenet5", [1, 28, 28], 10));
        SafeTensors.Save(Path.Combine(tmp, "a"), model.Parameters.Select(p => KeyValuePair.Create(p.Name, p.Value)), new Dictionary<string, string> { ["epoch"] = "3" });
        list.Add(File.ReadAllBytes(Path.Combine(tmp, "a")));
        SafeTensors.Save(Path.Combine(tmp, "b"), [KeyValuePair.Create("x", new Tensor([2, 3], [1, 2, 3, 4, 5, 6])), KeyValuePair.Create("y", new Tensor([1], [0.5f])), KeyValuePair.Create("z", new Tensor([0, 4], []))]);
        list.Add(File.ReadAllBytes(Path.Combine(tmp, "b")));
        return list;
    }

    private static List<byte[]> IdxSeeds()
    {
        static byte[] Be(params int[] v) => v.SelectMany(x => BitConverter.GetBytes(x).Reverse()).ToArray();
        var images = Be(IdxReader.ImagesMagic, 3, 4, 4).Concat(Enumerable.Range(0, 48).Select(i => (byte)(i * 5))).ToArray();
        var labels = Be(IdxReader.LabelsMagic, 5).Concat(new byte[] { 0, 1, 2, 9, 3 }).ToArray();
        return [images, labels, Gzip(images), Gzip(labels)];
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var z = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(raw);
        return ms.ToArray();
    }

    private static List<byte[]> YamlSeeds(string repoRoot)
    {
        var list = new List<byte[]>
        {
            Encoding.UTF8.GetBytes("name: tiny\nmodel: lenet5\nseeds: [0, 1]\nbaseline:\n  train:\n    epochs: 1\n    flags: {augment: true}\nmethods:\n  - name: l1\n    budgets: [0.5, 0.3]\n  - name: bn-slimming\n    budgets: [0.5]\n    flags: {sparsity: 1.0e-4}\n"),
        };
        foreach (var f in Directory.GetFiles(Path.Combine(repoRoot, "bench", "experiments"), "*.yaml")) list.Add(File.ReadAllBytes(f));
        return list;
    }
}
