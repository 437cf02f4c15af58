using System.Reflection;

namespace Deja.Tensors;

/// <summary>
/// The Deja version every output records: the assembly's informational version (the project version and,
/// when built from a git checkout, "+" and the commit), e.g. "1.0.0+ce22e8a6…".
/// </summary>
public static class DejaVersion
{
    public static string Text { get; } =
        typeof(DejaVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(DejaVersion).Assembly.GetName().Version?.ToString() ?? "unknown";
}
