using System.CommandLine;
using System.Text.Json.Nodes;

namespace Lopper.Cli.Commands;

/// <summary>
/// `lopper completion bash|zsh`: a shell script that asks lopper itself for completions through System.CommandLine's
/// <c>[suggest:POSITION]</c> directive, so commands, methods, flags and the words a flag accepts complete from the same
/// declarations the parser uses.
/// </summary>
public static class CompletionCommand
{
    private static readonly Argument<string> Shell = new("SHELL") { Description = "bash or zsh" };
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The script for bash: the whole line and the cursor position go to `lopper [suggest:N]`.</summary>
    public const string Bash = """
        # lopper tab completion for bash: eval "$(lopper completion bash)" in ~/.bashrc
        _lopper_complete() {
            local IFS=$'\n'
            local candidates
            candidates=$("${COMP_WORDS[0]}" "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null) || return 0
            COMPREPLY=($(compgen -W "${candidates}" -- "${COMP_WORDS[COMP_CWORD]}"))
        }
        complete -o default -F _lopper_complete lopper
        """;

    /// <summary>The script for zsh.</summary>
    public const string Zsh = """
        # lopper tab completion for zsh: eval "$(lopper completion zsh)" in ~/.zshrc (after compinit)
        _lopper_complete() {
            local -a candidates
            candidates=("${(@f)$(${words[1]} "[suggest:${CURSOR}]" "${BUFFER}" 2>/dev/null)}")
            compadd -a candidates
        }
        compdef _lopper_complete lopper
        """;

    /// <summary>The command.</summary>
    public static Command Create()
    {
        Shell.CompletionSources.Add("bash", "zsh");
        var c = new Command("completion", "print a tab-completion script for bash or zsh") { Shell, Json };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string shell = p.GetValue(Shell)!;
        string script = shell switch
        {
            "bash" => Bash,
            "zsh" => Zsh,
            _ => throw new LopperInputException($"completion: unknown shell '{shell}' (bash or zsh)"),
        };
        if (p.GetValue(Json)) JsonOutput.Print(new JsonObject { ["shell"] = shell, ["script"] = script });
        else Console.WriteLine(script);
        return 0;
    }
}
