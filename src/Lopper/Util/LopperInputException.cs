namespace Lopper;

/// <summary>
/// Bad input from the user: a malformed file, an unknown flag value, mismatched shapes.
/// The CLI turns it into a one-line message and exit code 2.
/// </summary>
public sealed class LopperInputException : Exception
{
    /// <summary>Creates the exception with a one-line message that names the file, field or flag.</summary>
    public LopperInputException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the low-level cause.</summary>
    public LopperInputException(string message, Exception inner) : base(message, inner) { }

    private LopperInputException(string message, Type optionsType, string[] options) : base(message)
    {
        OptionsType = optionsType;
        Options = options;
    }

    /// <summary>The options record whose properties <see cref="Options"/> names, or null.</summary>
    public Type? OptionsType { get; }

    /// <summary>
    /// Property names of <see cref="OptionsType"/> the message mentions (as a C# caller wrote them); a front end
    /// such as the CLI rewrites them into its own spelling (flags) with <see cref="Methods.OptionInfo"/>.
    /// </summary>
    public IReadOnlyList<string> Options { get; } = [];

    /// <summary>
    /// A bad value of one or more options of <typeparamref name="TOptions"/>; <paramref name="message"/> names them by
    /// property name (for example "Tau must be finite").
    /// </summary>
    public static LopperInputException ForOptions<TOptions>(string message, params string[] options) => new(message, typeof(TOptions), options);

    /// <summary>As <see cref="ForOptions{TOptions}(string, string[])"/> for a type known only at run time.</summary>
    public static LopperInputException ForOptions(Type optionsType, string message, params string[] options) => new(message, optionsType, options);
}

/// <summary>A run that started fine but failed (for example a NaN loss). Exit code 1.</summary>
public sealed class LopperRunException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LopperRunException(string message) : base(message) { }
}
