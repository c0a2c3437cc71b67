using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Conway.Api.Security;

/// <summary>The configured API keys, kept only as SHA-256 hashes and compared in constant time.</summary>
public sealed class ApiKeys(IOptions<AuthOptions> options)
{
    private readonly byte[][] _hashes = [.. options.Value.ApiKeys.Select(key => SHA256.HashData(Encoding.UTF8.GetBytes(key)))];

    /// <summary>Whether any key is configured (else the API is open).</summary>
    public bool Required => _hashes.Length > 0;

    /// <summary>
    /// The id of the key that <paramref name="presented"/> is (<c>key-</c> and its hash's first 8 hex digits, safe to
    /// log), or null. The hashes are compared with <see cref="CryptographicOperations.FixedTimeEquals"/>, all of them
    /// every time, so the time taken does not tell how much of a key was right.
    /// </summary>
    public string? Identify(string presented)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        byte[]? match = null;
        foreach (var candidate in _hashes)
            if (CryptographicOperations.FixedTimeEquals(hash, candidate)) match = candidate;
        return match is null ? null : $"key-{Convert.ToHexStringLower(match, 0, 4)}";
    }
}
