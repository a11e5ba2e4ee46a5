using Lopper.Pruning;

namespace Lopper.Methods;

/// <summary>
/// What the registry knows of a pruning method: its name, a one-line summary, its options record (the options,
/// defaults and checks, stated once), the option a budget goes to in an experiment, whether it needs data, and how
/// to make it. Each method declares one next to its code; <see cref="PruningMethods"/> lists them.
/// </summary>
public sealed class PruningMethodInfo
{
    private readonly Func<object, IPruningMethod> _create;

    private PruningMethodInfo(string name, string summary, Type optionsType, Func<object, IPruningMethod> create, string? budgetOption, bool needsData)
    {
        Name = name;
        Summary = summary;
        OptionsType = optionsType;
        _create = create;
        NeedsData = needsData;
        BudgetOption = budgetOption;
        if (budgetOption is not null && !Options.Any(o => o.Name == budgetOption))
            throw new InvalidOperationException($"method {name}: budget option '{budgetOption}' is not one of its options");
    }

    /// <summary>Declares a method whose settings are a <typeparamref name="TOptions"/> record.</summary>
    /// <param name="name">Name on the command line and in configs.</param>
    /// <param name="summary">One line for the method list.</param>
    /// <param name="create">Makes the method from validated-on-construction options.</param>
    /// <param name="budgetOption">The option an experiment's budgets go to by default (null: none).</param>
    /// <param name="needsData">False for methods that prune from the weights alone (L1, random, magnitude).</param>
    public static PruningMethodInfo Create<TOptions>(string name, string summary, Func<TOptions, IPruningMethod> create, string? budgetOption, bool needsData = true)
        where TOptions : new()
        => new(name, summary, typeof(TOptions), o => create((TOptions)o), budgetOption, needsData);

    /// <summary>Name on the command line and in configs.</summary>
    public string Name { get; }

    /// <summary>One line for the method list.</summary>
    public string Summary { get; }

    /// <summary>The options record type.</summary>
    public Type OptionsType { get; }

    /// <summary>Its options.</summary>
    public IReadOnlyList<OptionInfo> Options => OptionInfo.For(OptionsType);

    /// <summary>The option an experiment's budgets go to by default, or null.</summary>
    public string? BudgetOption { get; }

    /// <summary>Whether the method reads data (scores, training); data-free ones prune imported models with no dataset.</summary>
    public bool NeedsData { get; }

    /// <summary>A fresh options record with its defaults.</summary>
    public object DefaultOptions() => Activator.CreateInstance(OptionsType)!;

    /// <summary>The method from an options record of <see cref="OptionsType"/> (checked by the method).</summary>
    public IPruningMethod Create(object options)
    {
        if (!OptionsType.IsInstanceOfType(options)) throw new ArgumentException($"method {Name} takes {OptionsType.Name}, got {options.GetType().Name}", nameof(options));
        return _create(options);
    }

    /// <summary>The method from option names and texts (flags, config keys).</summary>
    public IPruningMethod Create(IEnumerable<OptionValue> values) => Create(OptionBinder.Bind(OptionsType, values, $"method {Name}"));
}
