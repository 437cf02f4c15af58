using Deja.Diffusion.IO;

namespace Deja.Diffusion.Tests.IO;

/// <summary>XXH3-64 against the reference tool: the values below were printed by xxhsum 0.8.1 (<c>xxhsum -H3</c>).</summary>
public class XxHash3Tests
{
    /// <summary>A byte pattern that differs at every position and over 256-byte periods.</summary>
    static byte[] Pattern(int n)
    {
        var b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte)((i * 31 + 7) * ((i >> 8) | 1));
        return b;
    }

    public static TheoryData<int, ulong> Reference() => new()
    {
        { 0, 0x2d06800538d394c2UL }, { 1, 0x4c5cca45d0f4811fUL }, { 2, 0xa7e250c97710ff27UL }, { 3, 0x15f7093b173d005cUL },
        { 4, 0xdca012f95811b6b9UL }, { 5, 0xb290cafc7b254345UL }, { 8, 0xdec6a9a43575982eUL }, { 9, 0xcbe393399f17ffbdUL },
        { 15, 0x545e19990471dc37UL }, { 16, 0x7e484c18d74895d0UL }, { 17, 0x208bde5ee2bed407UL }, { 32, 0x03df0ac5255d1446UL },
        { 33, 0x199a362122d71f46UL }, { 64, 0xdd30702ab46b3745UL }, { 65, 0xfab36b851b94ce20UL }, { 96, 0xd245cd2541582982UL },
        { 97, 0x60e3e1d0d43785b3UL }, { 128, 0xf92b70eaa21a6288UL }, { 129, 0xf8f76713f2bb60faUL }, { 200, 0x12fdb864685f344dUL },
        { 239, 0xcaa9b7a588464745UL }, { 240, 0xccc7375172c41f03UL }, { 241, 0x0b3b630948ce4a00UL }, { 255, 0x89932170686cdd9aUL },
        { 256, 0xec85b75bafe6ca74UL }, { 1023, 0x9480c55eae435741UL }, { 1024, 0x4f725081317b8c59UL }, { 1025, 0x1f9530565764aad7UL },
        { 2047, 0x5025815adf4a35cbUL }, { 2048, 0x4a763f072ef67370UL }, { 4096, 0xf5f871f78a51ee63UL }, { 100003, 0xd233244758a6794cUL },
    };

    [Theory]
    [MemberData(nameof(Reference))]
    public void MatchesXxhsum(int length, ulong expected)
    {
        var data = Pattern(length);
        Assert.Equal(expected, XxHash3.Hash(data));
        foreach (int bits in new[] { 0, 256, 512 })
            Assert.Equal(expected, XxHash3.Hash(data, bits)); // scalar, AVX2 and AVX-512 stripe loops agree
    }

    [Fact]
    public void KnownShortString() => Assert.Equal(0x78af5f94892f3950UL, XxHash3.Hash("abc"u8));
}
