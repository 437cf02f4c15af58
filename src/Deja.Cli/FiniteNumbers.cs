using System.CommandLine;
using System.Globalization;

namespace Deja.Cli;

/// <summary>
/// Every floating-point option of every command refuses NaN and infinities ("nan", "inf", "1e999") at
/// parse time: no deja setting means anything non-finite, and letting one through ends in a JSON writer's
/// error about named floating-point literals instead of a word about the option.
/// </summary>
public static class FiniteNumbers
{
    public static void RequireEverywhere(Command command)
    {
        foreach (var option in command.Options)
            if ((Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType) == typeof(double))
                option.Validators.Add(result =>
                {
                    foreach (var token in result.Tokens)
                        if (double.TryParse(token.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && !double.IsFinite(value))
                            result.AddError($"{option.Name}: '{token.Value}' is not a finite number");
                });
        foreach (var sub in command.Subcommands) RequireEverywhere(sub);
    }
}
