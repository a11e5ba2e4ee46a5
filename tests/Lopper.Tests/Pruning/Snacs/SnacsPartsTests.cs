using Lopper.Data;
using Lopper.Graph;
using Lopper.Pruning.Snacs;
using Lopper.Structure;
using Lopper.Tensors;
using Lopper.Tests.Structure;

namespace Lopper.Tests.Pruning.Snacs;

public class SnacsPartsTests
{
    private static ActivationMatrix Blobs(int perClass, int classes, int dims, double spread, Rng rng, out int[] labels)
    {
        var m = new ActivationMatrix(perClass * classes, dims);
        labels = new int[m.Rows];
        for (int r = 0; r < m.Rows; r++)
        {
            labels[r] = r % classes;
            for (int d = 0; d < dims; d++) m.Data[r * dims + d] = (float)((d == labels[r] % dims ? 3.0 : 0.0) + spread * rng.NextNormal());
        }
        return m;
    }

    [Fact]
    public void SvmSeparatesSeparableBlobsAndXor()
    {
        var rng = new Rng(1);
        var train = Blobs(30, 3, 4, 0.3, rng, out var labels);
        var svm = new RbfSvm(train, labels);
        Assert.Equal(1.0, svm.Accuracy(train, labels));
        var test = Blobs(30, 3, 4, 0.3, rng, out var testLabels);
        Assert.True(svm.Accuracy(test, testLabels) >= 0.97);

        // XOR: not linearly separable, an RBF kernel separates it.
        var xor = new ActivationMatrix(80, 2);
        var xl = new int[80];
        for (int i = 0; i < 80; i++)
        {
            int a = i % 2, b = (i / 2) % 2;
            xor.Data[2 * i] = (float)(a * 2 - 1 + 0.2 * rng.NextNormal());
            xor.Data[2 * i + 1] = (float)(b * 2 - 1 + 0.2 * rng.NextNormal());
            xl[i] = a ^ b;
        }
        Assert.Equal(1.0, new RbfSvm(xor, xl).Accuracy(xor, xl));
        Assert.Equal(1.0 / (2 * VarianceOf(xor)), RbfSvm.ScaleGamma(xor), 6); // gamma = scale: 1 / (features * variance)
    }

    private static double VarianceOf(ActivationMatrix m)
    {
        double mean = m.Data.Average(v => (double)v);
        return m.Data.Average(v => (v - mean) * (v - mean));
    }

    private static List<PairScores> RandomPairs(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var list = new List<PairScores>();
        for (int l = 0; l < count; l++)
        {
            int gc = 3 + l, gp = 4;
            var s = new double[gc, gp];
            for (int c = 0; c < gc; c++) for (int p = 0; p < gp; p++) s[c, p] = Math.Round(rng.NextDouble(), 2); // ties
            list.Add(new PairScores
            {
                Pair = new LayerPair(l, 0, 0, gp, gc, 1, true),
                ParentStarts = LayerPairs.GroupStarts(gp, gp), ChildStarts = LayerPairs.GroupStarts(gc, gc), Scores = s,
            });
        }
        return list;
    }

    [Fact]
    public void BuildMasksWithoutLimitsOrProtectionIsAPureGlobalQuantileCut()
    {
        var pairs = RandomPairs(3, 4);
        var all = pairs.SelectMany(p => p.Scores.Cast<double>()).Distinct().Order().ToArray();
        foreach (double q in new[] { 0.0, 0.2, 0.5, 0.9, 1.0 })
        {
            double t = all[Math.Min((int)Math.Round(q * all.Length), all.Length - 1)];
            var cuts = ConnectionMasks.Build(pairs, q);
            for (int l = 0; l < pairs.Count; l++)
                for (int c = 0; c < pairs[l].ChildGroups; c++)
                    for (int p = 0; p < pairs[l].ParentGroups; p++)
                        Assert.Equal(pairs[l].Scores[c, p] <= t, cuts[l][c, p]);
        }
    }

    [Fact]
    public void UpperLimitCapsALayerAndProtectedGroupsKeepEverything()
    {
        var pairs = RandomPairs(2, 5);
        pairs[0].UpperLimit = 0.25;
        pairs[1].Protected = [true, false, false, true];
        var cuts = ConnectionMasks.Build(pairs, 1.0);
        var distinct = pairs[0].Scores.Cast<double>().Distinct().Order().ToArray();
        double cap = distinct[(int)Math.Round(0.25 * distinct.Length)];
        int cut0 = cuts[0].Cast<bool>().Count(b => b);
        Assert.Equal(pairs[0].Scores.Cast<double>().Count(v => v <= cap), cut0);
        Assert.True(cut0 < pairs[0].Scores.Length);
        for (int p = 0; p < 4; p++) { Assert.False(cuts[1][0, p]); Assert.False(cuts[1][3, p]); Assert.True(cuts[1][1, p]); }
    }

    private static (Model Model, List<PairScores> Pairs, ChannelGroups Groups) ScoredModel(string name, int groups, ulong seed)
    {
        var model = StructureFixtures.Build(name, seed);
        var cg = ChannelGroups.Analyze(model.Graph);
        var rng = new Rng(seed + 1);
        var pairs = LayerPairs.Find(model.Graph, cg).Select(pair =>
        {
            var ps = LayerPairs.GroupStarts(pair.ParentChannels, groups);
            var cs = LayerPairs.GroupStarts(pair.ChildChannels, groups);
            var s = new double[cs.Length - 1, ps.Length - 1];
            for (int c = 0; c < cs.Length - 1; c++) for (int p = 0; p < ps.Length - 1; p++) s[c, p] = rng.NextDouble();
            return new PairScores { Pair = pair, ParentStarts = ps, ChildStarts = cs, Scores = s };
        }).ToList();
        return (model, pairs, cg);
    }

    [Fact]
    public void KeptParametersAndMacsFallMonotonicallyWithTheQuantile()
    {
        var (model, pairs, groups) = ScoredModel("lenet5", 4, 3);
        var scratch = new Model(model.Graph);
        var values = ConnectionMasks.DistinctValues(pairs.Select(p => p.Scores));
        long prevP = long.MaxValue, prevM = long.MaxValue;
        foreach (double q in new[] { 0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0 })
        {
            var (p, m) = SnacsPruner.KeptCost(model, groups, pairs, ConnectionMasks.Quantile(values, q), scratch);
            Assert.True(p <= prevP && m <= prevM, $"q {q}: {p} params, {m} MACs after {prevP}, {prevM}");
            prevP = p; prevM = m;
        }
        Assert.True(prevP < CostCounter.Totals(model.Graph).Params / 2);
    }

    [Theory]
    [InlineData("lenet5", 4)]
    [InlineData("vgg-small", 8)]
    [InlineData("resnet20", 16)]
    public void CompactedModelComputesWhatTheMaskedModelComputes(string name, int groups)
    {
        var (model, pairs, _) = ScoredModel(name, groups, 11);
        var masks = SnacsPruner.ChildMasks(model, pairs, ConnectionMasks.Build(pairs, 0.6));
        var (compact, pm, dead) = ConnectionCompaction.Compact(model, masks); // masks `model` in place
        Assert.True(dead > 0 || name == "resnet20");
        var x = StructureFixtures.Input(model, 2, 5);
        var expected = StructureFixtures.Run(model, x);
        StructureFixtures.AssertClose(expected, StructureFixtures.Run(compact, x));
        pm.Apply(compact); // the carried masks agree with the compacted weights
        StructureFixtures.AssertClose(expected, StructureFixtures.Run(compact, x));
        var (p, m) = ConnectionCompaction.Cost(compact, pm);
        Assert.Equal(CostCounter.Totals(compact.Graph).Params - pm.ZeroCount(), p);
        Assert.True(m < CostCounter.Totals(model.Graph).Macs);
    }

    [Fact]
    public void PatchMeansReproduceTheLayerActivationsExactly()
    {
        var model = StructureFixtures.Build("lenet5", 2);
        var data = TinyFashion(20);
        var loader = new DataLoader(data, 7, 1, shuffle: false);
        var cg = ChannelGroups.Analyze(model.Graph);
        var pairs = LayerPairs.Find(model.Graph, cg);
        Assert.Equal(["conv1->conv2", "conv2->fc1", "fc1->fc2", "fc2->fc3"], pairs.Select(p => p.Label(model.Graph)));
        var probe = ActivationProbe.Collect(model, loader, pairs.Select(p => p.Child), pairs.Select(p => p.Child), 12);
        foreach (var pair in pairs)
        {
            var node = model.Graph.Nodes[pair.Child];
            var a = ActivationProbe.FromPatches(probe.PatchMeans(pair.Child), model.Find(node.Name + ".weight")!.Value.Data,
                model.Find(node.Name + ".bias")?.Value.Data, pair.ChildChannels);
            StructureFixtures.AssertClose(probe.Output(pair.Child).TopRows(12).Data, a.Data, 1e-4);
        }
    }

    internal static Dataset TinyFashion(int n)
    {
        var pixels = new byte[n * 784];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 10;
            for (int p = 0; p < 784; p++) pixels[i * 784 + p] = (byte)((p / 28) / 3 == i % 10 ? 200 : (p * 7 + i * 13) % 50);
        }
        return new Dataset("tiny", "train", pixels, labels, 1, 28, 28, 10);
    }

    [Fact]
    public void ProbeIndicesAreClassBalancedInterleavedAndSeeded()
    {
        var data = TinyFashion(100);
        var idx = ActivationProbe.DrawIndices(data, 4, 9);
        Assert.Equal(40, idx.Length);
        Assert.Equal(idx, ActivationProbe.DrawIndices(data, 4, 9));
        Assert.Equal(40, idx.Distinct().Count());
        for (int i = 0; i < idx.Length; i++) Assert.Equal(i % 10, data.Label(idx[i]));
    }

    [Fact]
    public void PsiIsTheMeanShareOfReaderWeightAndModesPickOppositeEnds()
    {
        // Two reader filters over 4 child channels; groups {0,1} and {2,3}.
        double[] w = [0.1, 0.1, 0.4, 0.4, 0.2, 0.2, 0.3, 0.3];
        var psi = Sensitivity.Psi([(w, 2)], 4, [0, 2, 4])!;
        Assert.Equal(0.5 * (0.2 + 0.4), psi[0], 12);
        Assert.Equal(0.5 * (0.8 + 0.6), psi[1], 12);
        Assert.Equal([true, false], Sensitivity.Protected(psi, 2, SensitivityMode.Low, 0.5));
        Assert.Equal([false, true], Sensitivity.Protected(psi, 2, SensitivityMode.High, 0.5));
        Assert.Equal([false, false], Sensitivity.Protected(psi, 2, SensitivityMode.None, 0.5));
        Assert.Equal([false, false], Sensitivity.Protected(null, 2, SensitivityMode.High, 0.5));
    }

    [Fact]
    public void GroupStartsSplitContiguouslyAndClampToTheWidth()
    {
        Assert.Equal([0, 2, 4, 6], LayerPairs.GroupStarts(6, 3));
        Assert.Equal([0, 1, 3, 4, 6], LayerPairs.GroupStarts(6, 4));
        Assert.Equal([0, 1, 2, 3], LayerPairs.GroupStarts(3, 8));
    }
}
