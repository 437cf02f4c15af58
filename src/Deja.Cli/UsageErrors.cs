using System.CommandLine;
using System.CommandLine.Parsing;

namespace Deja.Cli;

/// <summary>
/// Command lines that do not parse: one "deja COMMAND: ..." line per error in the user's words (no .NET
/// type names such as System.Nullable`1), and a pointer to --help instead of the whole help text. Exit 2.
/// </summary>
public static class UsageErrors
{
    public static int Write(ParseResult parse, TextWriter error)
    {
        string command = CommandPath(parse.CommandResult);
        foreach (var e in parse.Errors) error.WriteLine($"{command}: {Describe(e)}");
        error.WriteLine($"Run '{command} --help' for its options.");
        return ExitCodes.Usage;
    }

    /// <summary>"deja detect" for the detect subcommand.</summary>
    static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
            if (r is CommandResult c) names.Insert(0, c.Parent is null ? "deja" : c.Command.Name);
        return string.Join(" ", names);
    }

    static string Describe(ParseError e)
    {
        var option = OptionOf(e.SymbolResult);
        // System.CommandLine: "Cannot parse argument 'abc' for option '--n' as expected type 'System.Int32'."
        if (option is not null && e.Message.StartsWith("Cannot parse argument", StringComparison.Ordinal))
        {
            var token = option.Tokens.Count > 0 ? option.Tokens[^1].Value : "";
            return $"{option.Option.Name}: '{token}' is not {Expected(option.Option.ValueType)}";
        }
        return e.Message;
    }

    static OptionResult? OptionOf(SymbolResult? result)
    {
        for (var r = result; r is not null; r = r.Parent)
            if (r is OptionResult o) return o;
        return null;
    }

    /// <summary>What a value of the option's type looks like, in words.</summary>
    internal static string Expected(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(int)) return $"a whole number from {int.MinValue} to {int.MaxValue}";
        if (type == typeof(long)) return $"a whole number from {long.MinValue} to {long.MaxValue}";
        if (type == typeof(ulong)) return $"a whole number from 0 to {ulong.MaxValue}";
        if (type == typeof(double) || type == typeof(float)) return "a finite number";
        if (type == typeof(bool)) return "true or false";
        return $"a valid {type.Name.ToLowerInvariant()}";
    }
}
