using Lopper.Tensors;

namespace Lopper.Graph;

/// <summary>A graph plus its parameters: everything needed to run and train a network.</summary>
public sealed class Model
{
    private readonly Dictionary<string, Parameter> _byName = new();

    /// <summary>The architecture.</summary>
    public ModelGraph Graph { get; }

    /// <summary>All parameters in node order.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>For each node, its parameters in the order the op declares them.</summary>
    public Parameter[][] NodeParameters { get; }

    /// <summary>Creates the parameters of <paramref name="graph"/>, initialised from <paramref name="seed"/>.</summary>
    /// <exception cref="LopperInputException">The parameters would exceed <see cref="MaxParameterBytes"/> (checked before anything is allocated).</exception>
    public Model(ModelGraph graph, ulong seed = 0)
    {
        CheckBudget(graph, MaxParameterBytes);
        Graph = graph;
        var all = new List<Parameter>();
        NodeParameters = new Parameter[graph.Nodes.Count][];
        var rng = new Rng(seed);
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            var specs = i == 0 ? [] : node.Op.Parameters(graph.InputShapesOf(node));
            var ps = new Parameter[specs.Count];
            for (int j = 0; j < ps.Length; j++)
            {
                ps[j] = new Parameter($"{node.Name}.{specs[j].Name}", node, specs[j]);
                Initialise(ps[j], rng);
                _byName.Add(ps[j].Name, ps[j]);
                all.Add(ps[j]);
            }
            NodeParameters[i] = ps;
        }
        Parameters = all;
    }

    /// <summary>
    /// Largest total parameter size (bytes, F32) a model may have; a model.json asking for more is refused
    /// before any parameter is allocated. Default 4 GiB; the environment variable LOPPER_MAX_PARAM_BYTES overrides it.
    /// </summary>
    public static long MaxParameterBytes { get; set; } = DefaultBudget();

    private static long DefaultBudget()
    {
        var s = Environment.GetEnvironmentVariable("LOPPER_MAX_PARAM_BYTES");
        return s is not null && long.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v) && v > 0 ? v : 4L << 30;
    }

    /// <summary>
    /// Sums the size of every parameter <paramref name="graph"/> declares, with overflow checks, and throws a
    /// <see cref="LopperInputException"/> naming the first tensor that takes the total over <paramref name="maxBytes"/>.
    /// Allocates nothing but the specs.
    /// </summary>
    public static long CheckBudget(ModelGraph graph, long maxBytes)
    {
        long total = 0;
        for (int i = 1; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            foreach (var spec in node.Op.Parameters(graph.InputShapesOf(node)))
            {
                long n = 1;
                foreach (int d in spec.Shape)
                {
                    if (d < 0) throw new LopperInputException($"node {node.Name}: parameter {spec.Name} has a negative dimension {Tensor.Format(spec.Shape)}");
                    if (d != 0 && n > maxBytes / 4 / d) n = long.MaxValue / 8; // beyond any budget; avoids the overflow
                    else n *= d;
                }
                if (n > Array.MaxLength || total + n * 4 > maxBytes)
                    throw new LopperInputException($"node {node.Name}: parameter {spec.Name} of shape {Tensor.Format(spec.Shape)} takes the model's parameters over the memory budget of {maxBytes} bytes (set LOPPER_MAX_PARAM_BYTES to raise it)");
                total += n * 4;
            }
        }
        return total;
    }

    /// <summary>A parameter by its full name, or null.</summary>
    public Parameter? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>An independent copy: the same graph, every parameter's values copied (running statistics included).</summary>
    public Model Copy()
    {
        var copy = new Model(Graph);
        foreach (var p in Parameters) p.Value.Span.CopyTo(copy.Find(p.Name)!.Value.Span);
        return copy;
    }

    /// <summary>Total number of parameter values, counting trainable tensors only (as PyTorch's numel sum does).</summary>
    public long ParameterCount()
    {
        long n = 0;
        foreach (var p in Parameters) if (p.Trainable) n += p.Value.Length;
        return n;
    }

    private static void Initialise(Parameter p, Rng rng)
    {
        var s = p.Value.Span;
        switch (p.Spec.Init)
        {
            case ParamInit.Zeros: s.Clear(); break;
            case ParamInit.Ones: s.Fill(1f); break;
            case ParamInit.KaimingNormalFanOut:
                {
                    double std = Math.Sqrt(2.0 / Math.Max(1, p.Spec.FanOut));
                    for (int i = 0; i < s.Length; i++) s[i] = (float)(rng.NextNormal() * std);
                    break;
                }
            case ParamInit.UniformFanIn:
                {
                    double bound = 1.0 / Math.Sqrt(Math.Max(1, p.Spec.FanIn));
                    for (int i = 0; i < s.Length; i++) s[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
                    break;
                }
        }
    }
}
