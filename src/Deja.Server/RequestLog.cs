using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Deja.Server;

/// <summary>
/// One JSON line per request: time, method, route, status, milliseconds, how many prompts and how many
/// flagged, the field of a refusal. Prompt text only with --log-prompts: prompts are untrusted and may be
/// private, and a log is read by more people than the service's clients. A 500's exception goes to
/// stderr, never to the client.
/// </summary>
public static class RequestLog
{
    public const string PromptsKey = "deja.prompts", FlaggedKey = "deja.flagged", FieldKey = "deja.field", ErrorKey = "deja.error";
    static readonly Lock Gate = new();

    /// <summary>Records the request's prompts for its log line.</summary>
    public static void Note(HttpContext context, string[] prompts) => context.Items[PromptsKey] = prompts;

    public static void Write(ServerSettings settings, HttpContext context, string route, TimeSpan elapsed)
    {
        if (settings.Log is not { } log) return;
        var line = new JsonObject
        {
            ["time"] = DateTime.UtcNow.ToString("O"),
            ["method"] = context.Request.Method,
            ["route"] = route,
            ["status"] = context.Response.StatusCode,
            ["ms"] = Math.Round(elapsed.TotalMilliseconds, 2),
        };
        if (context.Items[PromptsKey] is string[] prompts)
        {
            line["prompts"] = prompts.Length;
            if (settings.LogPrompts) line["prompt_text"] = new JsonArray([.. prompts.Select(p => (JsonNode)p)]);
        }
        if (context.Items[FlaggedKey] is int flagged) line["flagged"] = flagged;
        if (context.Items[FieldKey] is string field) line["error_field"] = field;
        lock (Gate) log.WriteLine(line.ToJsonString());
        if (context.Items[ErrorKey] is string error) lock (Gate) Console.Error.WriteLine($"deja serve: internal error on {context.Request.Method} {route}: {error}");
    }
}
