using Deja.Tensors;

namespace Deja.Server;

/// <summary>
/// How `deja serve` listens and what it accepts. Every limit is a flag with the default stated here and in
/// --help; the request-facing ones bound what one client can make the service hold or compute.
/// </summary>
public sealed record ServerSettings
{
    /// <summary>Address to bind: localhost unless told otherwise (the service has no TLS of its own).</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>Port to listen on; 0: any free port (the bound address is printed).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>Largest request body in bytes (413 above it).</summary>
    public int MaxBodyBytes { get; init; } = 1 << 20;
    /// <summary>Prompts per /v1/screen or /v1/explain request (400 above it).</summary>
    public int MaxPrompts { get; init; } = 64;
    /// <summary>Characters per prompt (400 above it; the text encoder reads 77 tokens anyway).</summary>
    public int MaxPromptChars { get; init; } = 2000;
    /// <summary>Seconds a request may wait and run before it is answered 503.</summary>
    public double RequestTimeoutSeconds { get; init; } = 60;
    /// <summary>Prompts that may wait for the model at once; a request that would exceed it gets 429.</summary>
    public int QueueLength { get; init; } = 256;
    /// <summary>Prompts per detector call (the dynamic batch), as detect's --batch.</summary>
    public int MaxBatch { get; init; } = 8;
    /// <summary>Milliseconds the batcher waits for more prompts after the first one arrives.</summary>
    public double MaxWaitMs { get; init; } = 5;
    /// <summary>Largest step count /v1/generate accepts.</summary>
    public int MaxSteps { get; init; } = 50;
    /// <summary>The bearer token every /v1/* and /metrics request must send; null: no authentication.</summary>
    public string? ApiKey { get; init; }
    /// <summary>Write prompt text into the request log (off: prompts are untrusted and may be private).</summary>
    public bool LogPrompts { get; init; }
    /// <summary>Where the one-line-per-request JSON log goes (stdout by default; null: nowhere).</summary>
    public TextWriter? Log { get; init; } = Console.Out;

    /// <summary>Refuses impossible limits, naming the flag.</summary>
    public void Validate()
    {
        static void Positive(string flag, double value)
        {
            if (!(value > 0) || !double.IsFinite(value)) throw new DejaException($"serve: {flag} must be positive, got {value}");
        }
        if (Port is < 0 or > 65535) throw new DejaException($"serve: --port must be from 0 (any free port) to 65535, got {Port}");
        Positive("--max-body-bytes", MaxBodyBytes);
        Positive("--max-prompts", MaxPrompts);
        Positive("--max-prompt-chars", MaxPromptChars);
        Positive("--request-timeout", RequestTimeoutSeconds);
        Positive("--queue-length", QueueLength);
        Positive("--max-batch", MaxBatch);
        Positive("--max-steps", MaxSteps);
        if (!(MaxWaitMs >= 0) || !double.IsFinite(MaxWaitMs)) throw new DejaException($"serve: --max-wait-ms must be ≥ 0, got {MaxWaitMs}");
        if (QueueLength < MaxPrompts)
            throw new DejaException($"serve: --queue-length ({QueueLength}) must be at least --max-prompts ({MaxPrompts}), or a full request could never be queued");
        if (ApiKey is { } key && (key.Length < 16 || key.Any(char.IsWhiteSpace)))
            throw new DejaException("serve: the --api-key-file key must be at least 16 characters with no whitespace");
        if (string.IsNullOrWhiteSpace(Host)) throw new DejaException("serve: --host is empty");
    }

    /// <summary>Reads the API key: the file's only line (surrounding whitespace removed).</summary>
    public static string ReadApiKey(string path)
    {
        if (!File.Exists(path)) throw new DejaException($"serve: --api-key-file '{path}' does not exist");
        var key = File.ReadAllText(path).Trim();
        if (key.Length == 0) throw new DejaException($"serve: --api-key-file '{path}' is empty");
        if (key.Contains('\n')) throw new DejaException($"serve: --api-key-file '{path}' has more than one line; it must hold the key alone");
        return key;
    }
}
