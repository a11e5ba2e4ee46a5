using Lopper.Data;
using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Tensors;

namespace Lopper.Pruning.Snacs;

/// <summary>
/// The probe set and its activations (spec §1): a class-balanced subset of the training data, run once
/// through the eval-mode network; each hooked node's output is reduced to one number per channel (the
/// spatial mean). For the layers whose pruned activations must be recomputed (operating constraints), the
/// mean input patch is kept too, which makes that recomputation exact and cheap (see <see cref="PatchMeans"/>).
/// </summary>
public sealed class ActivationProbe
{
    private readonly Dictionary<int, ActivationMatrix> _outputs;
    private readonly Dictionary<int, ActivationMatrix> _patches;

    private ActivationProbe(int[] labels, Dictionary<int, ActivationMatrix> outputs, Dictionary<int, ActivationMatrix> patches, int patchRows)
    {
        Labels = labels;
        _outputs = outputs;
        _patches = patches;
        PatchRows = patchRows;
    }

    /// <summary>Class label of each probe row.</summary>
    public int[] Labels { get; }

    /// <summary>Rows (the first ones) that also have patch means.</summary>
    public int PatchRows { get; }

    /// <summary>Spatial-mean output of a hooked node, N × channels.</summary>
    public ActivationMatrix Output(int node) => _outputs[node];

    /// <summary>
    /// Mean input patch of a hooked conv/linear node over its output positions, PatchRows × (C·k·k) (features for a
    /// linear). The spatial mean of a convolution output is linear in its weight: mean_pos(conv(x, W))[c] =
    /// Σ W[c, j] · PatchMeans[j] + b[c], so the activations of any masked copy of the layer are one matrix product.
    /// </summary>
    public ActivationMatrix PatchMeans(int node) => _patches[node];

    /// <summary>
    /// Draws <paramref name="perClass"/> training indices per class (seeded). Rows are interleaved by class, so
    /// any prefix of k·classes rows is again class-balanced. Drawn without replacement (the released code draws
    /// with replacement): duplicate rows add nothing to the scores and create zero-distance ties for MINT's
    /// nearest-neighbour step; with fewer images than asked in a class, that class gives all it has.
    /// </summary>
    public static int[] DrawIndices(Dataset data, int perClass, ulong seed)
    {
        var byClass = new List<int>[data.ClassCount];
        for (int c = 0; c < byClass.Length; c++) byClass[c] = new List<int>();
        for (int i = 0; i < data.Count; i++) byClass[data.Label(i)].Add(i);
        var rng = Rng.Derive(seed, 0x50524F4245UL); // "PROBE"
        var picked = new int[byClass.Length][];
        for (int c = 0; c < byClass.Length; c++)
        {
            var idx = byClass[c].ToArray();
            rng.Shuffle(idx);
            picked[c] = idx[..Math.Min(perClass, idx.Length)];
        }
        var order = new List<int>();
        for (int k = 0; k < perClass; k++)
            for (int c = 0; c < picked.Length; c++)
                if (k < picked[c].Length) order.Add(picked[c][k]);
        return order.ToArray();
    }

    /// <summary>A dataset of the given images (copied), in that order.</summary>
    public static Dataset Subset(Dataset data, int[] indices)
    {
        var pixels = new byte[(long)indices.Length * data.ImageSize];
        var labels = new int[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            data.Image(indices[i]).CopyTo(pixels.AsSpan((int)((long)i * data.ImageSize)));
            labels[i] = data.Label(indices[i]);
        }
        return new Dataset(data.Name, data.Split, pixels, labels, data.Channels, data.Height, data.Width, data.ClassCount, data.ClassNames);
    }

    /// <summary>
    /// Runs the model (inference mode) over <paramref name="probe"/> (no shuffling, no augmentation) and records the
    /// spatial-mean outputs of <paramref name="outputNodes"/> on every row, and the patch means of
    /// <paramref name="patchNodes"/> (conv or linear) on the first <paramref name="patchRows"/> rows.
    /// </summary>
    public static ActivationProbe Collect(Model model, DataLoader probe, IEnumerable<int> outputNodes, IEnumerable<int> patchNodes, int patchRows)
    {
        var graph = model.Graph;
        int n = probe.Data.Count;
        patchRows = Math.Clamp(patchRows, 0, n);
        var outputs = new Dictionary<int, ActivationMatrix>();
        foreach (int i in outputNodes.Distinct()) outputs[i] = new ActivationMatrix(n, graph.Nodes[i].OutputShape[1]);
        var patchOf = new Dictionary<int, int>(); // input node -> child whose patches it feeds
        var patches = new Dictionary<int, ActivationMatrix>();
        foreach (int c in patchNodes.Distinct())
        {
            var node = graph.Nodes[c];
            int cols = node.Op switch
            {
                Conv2dOp conv => conv.InChannels * conv.Kernel * conv.Kernel,
                LinearOp lin => lin.InFeatures,
                _ => throw new ArgumentException($"{node.Name}: patch means need a conv2d or linear node"),
            };
            patches[c] = new ActivationMatrix(patchRows, cols);
        }
        var readersOf = new Dictionary<int, List<int>>();
        foreach (int c in patches.Keys)
        {
            int src = graph.Nodes[c].InputIndices[0];
            if (!readersOf.TryGetValue(src, out var l)) readersOf[src] = l = new List<int>();
            l.Add(c);
        }
        var indexOf = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < graph.Nodes.Count; i++) indexOf[graph.Nodes[i]] = i;

        int rowBase = 0;
        var executor = new Executor(model);
        executor.AfterForward = (node, y) =>
        {
            int i = indexOf[node];
            if (outputs.TryGetValue(i, out var m)) SpatialMeans(y, m, rowBase);
            if (readersOf.TryGetValue(i, out var readers))
                foreach (int c in readers)
                    if (rowBase < patchRows) AddPatchMeans(graph.Nodes[c].Op, y, patches[c], rowBase, patchRows);
        };
        if (readersOf.ContainsKey(0)) throw new ArgumentException("patch means of a layer reading the network input are not supported");
        for (int b = 0; b < probe.BatchesPerEpoch; b++)
        {
            using var batch = probe.GetBatch(0, b);
            executor.Forward(batch.Images, training: false, forBackward: false);
            executor.EndStep();
            rowBase += batch.Count;
        }
        var labels = new int[n];
        probe.Data.Labels.CopyTo(labels);
        return new ActivationProbe(labels, outputs, patches, patchRows);
    }

    /// <summary>Per-channel mean over all positions of y ([B, C, ...]) into rows [row0, row0+B) of <paramref name="m"/>.</summary>
    public static void SpatialMeans(Tensor y, ActivationMatrix m, int row0)
    {
        int batch = y.Shape[0], c = y.Shape[1];
        int plane = y.Length / (batch * c);
        for (int b = 0; b < batch; b++)
            for (int ch = 0; ch < c; ch++)
                m.Data[(row0 + b) * m.Cols + ch] = TensorPrimitives.Sum(y.Data.AsSpan((b * c + ch) * plane, plane)) / plane;
    }

    private static void AddPatchMeans(Op op, Tensor x, ActivationMatrix m, int row0, int rowEnd)
    {
        int batch = Math.Min(x.Shape[0], rowEnd - row0);
        if (op is LinearOp)
        {
            int f = m.Cols;
            for (int b = 0; b < batch; b++) x.Data.AsSpan(b * f, f).CopyTo(m.Row(row0 + b));
            return;
        }
        var conv = (Conv2dOp)op;
        int ch = x.Shape[1], h = x.Shape[2], w = x.Shape[3], k = conv.Kernel, s = conv.Stride, pad = conv.Padding;
        int oh = (h + 2 * pad - k) / s + 1, ow = (w + 2 * pad - k) / s + 1;
        float inv = 1f / (oh * ow);
        for (int b = 0; b < batch; b++)
        {
            var row = m.Row(row0 + b);
            for (int p = 0; p < ch; p++)
            {
                var plane = x.Data.AsSpan((b * ch + p) * h * w, h * w);
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++)
                    {
                        // Zero padding contributes nothing; sum only the positions that fall inside the image.
                        float sum = 0;
                        for (int oy = 0; oy < oh; oy++)
                        {
                            int iy = oy * s + ky - pad;
                            if ((uint)iy >= (uint)h) continue;
                            var line = plane.Slice(iy * w, w);
                            for (int ox = 0; ox < ow; ox++)
                            {
                                int ix = ox * s + kx - pad;
                                if ((uint)ix < (uint)w) sum += line[ix];
                            }
                        }
                        row[(p * k + ky) * k + kx] = sum * inv;
                    }
            }
        }
    }

    /// <summary>
    /// Spatial-mean outputs of a conv/linear layer with weight <paramref name="weight"/> ([O, C·k·k] flattened) and
    /// optional bias, from its patch means: A = U·Wᵀ + b.
    /// </summary>
    public static unsafe ActivationMatrix FromPatches(ActivationMatrix patches, float[] weight, float[]? bias, int outChannels)
    {
        var a = new ActivationMatrix(patches.Rows, outChannels);
        int k = patches.Cols;
        fixed (float* pu = patches.Data, pw = weight, pa = a.Data)
            Tensors.Kernels.Gemm.Multiply(false, true, patches.Rows, outChannels, k, pu, k, pw, k, pa, outChannels, false);
        if (bias is not null)
            for (int r = 0; r < a.Rows; r++) TensorPrimitives.Add(a.Row(r), bias, a.Row(r));
        return a;
    }
}
