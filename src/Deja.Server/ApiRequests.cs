using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Deja.Server;

/// <summary>A refused request: the HTTP status, the JSON field at fault ("body" for the body as a whole) and why.</summary>
public sealed class ApiError(int status, string field, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Field { get; } = field;
}

/// <summary>/v1/generate's body.</summary>
public sealed record GenerateBody(string Prompt, long Seed, int Steps, double Guidance, bool Guard, string? Mitigate);

/// <summary>
/// Reads and checks request bodies. Strict on purpose: the body must be one JSON object of the documented
/// members (an unknown or duplicated member is refused, so a typo is not silently ignored), each of its
/// type, and every prompt non-empty and within --max-prompt-chars. Every refusal names the field. Nothing
/// in a request is ever used as a file path or URL.
/// </summary>
public static class ApiRequests
{
    static readonly JsonDocumentOptions Options = new() { MaxDepth = 8, AllowDuplicateProperties = false };

    /// <summary>The body, at most <paramref name="maxBytes"/> (413 beyond: the rest is not read).</summary>
    public static async Task<byte[]> ReadBody(HttpRequest request, int maxBytes, CancellationToken cancel)
    {
        if (request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            throw new ApiError(415, "body", $"the body must be JSON (Content-Type: application/json), got '{type}'");
        if (request.ContentLength is long declared && declared > maxBytes)
            throw new ApiError(413, "body", $"the body is {declared} bytes, the limit is {maxBytes} (--max-body-bytes)");
        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancel)) > 0)
        {
            if (buffer.Length + read > maxBytes)
                throw new ApiError(413, "body", $"the body is larger than the limit of {maxBytes} bytes (--max-body-bytes)");
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>/v1/screen: {"prompts": [...], "method": optional, the served method}.</summary>
    public static string[] Screen(byte[] body, ServerSettings limits, string servedMethod)
    {
        using var doc = Parse(body);
        var root = doc.RootElement;
        CheckMembers(root, "prompts", "method");
        if (root.TryGetProperty("method", out var method))
        {
            string m = String(method, "method");
            if (m != servedMethod)
                throw new ApiError(400, "method", $"this service scores with \"{servedMethod}\" (deja serve --method); \"{Clip(m)}\" is not served");
        }
        return Prompts(root, limits);
    }

    /// <summary>/v1/explain: {"prompts": [...]}.</summary>
    public static string[] Explain(byte[] body, ServerSettings limits)
    {
        using var doc = Parse(body);
        CheckMembers(doc.RootElement, "prompts");
        return Prompts(doc.RootElement, limits);
    }

    /// <summary>/v1/generate: {"prompt", "seed" (0), "steps" (--max-steps), "guidance" (7.5), "guard" (false), "mitigate" (null)}.</summary>
    public static GenerateBody Generate(byte[] body, ServerSettings limits)
    {
        using var doc = Parse(body);
        var root = doc.RootElement;
        CheckMembers(root, "prompt", "seed", "steps", "guidance", "guard", "mitigate");
        if (!root.TryGetProperty("prompt", out var p)) throw new ApiError(400, "prompt", "missing: the prompt to generate");
        string prompt = PromptText(p, "prompt", limits);
        long seed = root.TryGetProperty("seed", out var s) ? (s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out long v) ? v
            : throw new ApiError(400, "seed", "must be an integer")) : 0;
        int steps = limits.MaxSteps;
        if (root.TryGetProperty("steps", out var st))
        {
            if (st.ValueKind != JsonValueKind.Number || !st.TryGetInt32(out steps) || steps < 1 || steps > limits.MaxSteps)
                throw new ApiError(400, "steps", $"must be an integer from 1 to {limits.MaxSteps} (--max-steps)");
        }
        double guidance = 7.5;
        if (root.TryGetProperty("guidance", out var g))
        {
            if (g.ValueKind != JsonValueKind.Number || !g.TryGetDouble(out guidance) || !double.IsFinite(guidance) || guidance < 0 || guidance > 50)
                throw new ApiError(400, "guidance", "must be a number from 0 to 50");
        }
        bool guard = false;
        if (root.TryGetProperty("guard", out var gd))
        {
            if (gd.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw new ApiError(400, "guard", "must be true or false");
            guard = gd.GetBoolean();
        }
        string? mitigate = null;
        if (root.TryGetProperty("mitigate", out var mt) && mt.ValueKind != JsonValueKind.Null) mitigate = String(mt, "mitigate");
        return new GenerateBody(prompt, seed, steps, guidance, guard, mitigate);
    }

    static JsonDocument Parse(byte[] body)
    {
        if (body.Length == 0) throw new ApiError(400, "body", "the body is empty; send a JSON object");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(body, Options); }
        catch (JsonException e) { throw new ApiError(400, "body", $"not valid JSON: {e.Message}"); }
        catch (ArgumentException e) { throw new ApiError(400, "body", $"not valid JSON: {e.Message}"); } // invalid UTF-8 / BOM edge cases
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            var kind = doc.RootElement.ValueKind;
            doc.Dispose();
            throw new ApiError(400, "body", $"must be a JSON object, got {Kind(kind)}");
        }
        return doc;
    }

    static void CheckMembers(JsonElement root, params string[] allowed)
    {
        foreach (var member in root.EnumerateObject())
        {
            string name;
            try { name = member.Name; }
            catch (InvalidOperationException) { throw new ApiError(400, "body", "a member name is not valid UTF-8 text"); }
            if (!allowed.Contains(name))
                throw new ApiError(400, Clip(name), $"unknown field; this endpoint takes {string.Join(", ", allowed)}");
        }
    }

    static string[] Prompts(JsonElement root, ServerSettings limits)
    {
        if (!root.TryGetProperty("prompts", out var prompts)) throw new ApiError(400, "prompts", "missing: a list of prompt strings");
        if (prompts.ValueKind != JsonValueKind.Array) throw new ApiError(400, "prompts", $"must be an array of strings, got {Kind(prompts.ValueKind)}");
        int count = prompts.GetArrayLength();
        if (count == 0) throw new ApiError(400, "prompts", "is empty; give at least one prompt");
        if (count > limits.MaxPrompts) throw new ApiError(400, "prompts", $"has {count} prompts, the limit is {limits.MaxPrompts} per request (--max-prompts)");
        var list = new string[count];
        int i = 0;
        foreach (var p in prompts.EnumerateArray())
        {
            list[i] = PromptText(p, $"prompts[{i}]", limits);
            i++;
        }
        return list;
    }

    static string PromptText(JsonElement e, string field, ServerSettings limits)
    {
        string text = String(e, field);
        if (string.IsNullOrWhiteSpace(text)) throw new ApiError(400, field, "is empty");
        if (text.Length > limits.MaxPromptChars)
            throw new ApiError(400, field, $"has {text.Length} characters, the limit is {limits.MaxPromptChars} (--max-prompt-chars)");
        return text;
    }

    static string String(JsonElement e, string field)
    {
        if (e.ValueKind != JsonValueKind.String) throw new ApiError(400, field, $"must be a string, got {Kind(e.ValueKind)}");
        try { return e.GetString()!; }
        catch (InvalidOperationException) { throw new ApiError(400, field, "is not valid text (an unpaired surrogate escape)"); }
    }

    static string Kind(JsonValueKind k) => k switch
    {
        JsonValueKind.Object => "an object", JsonValueKind.Array => "an array", JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number", JsonValueKind.True or JsonValueKind.False => "a boolean", JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>Request text echoed in an error is cut short: an error must not be a way to make the service write a megabyte.</summary>
    static string Clip(string s) => s.Length <= 64 ? s : s[..64] + "…";
}
