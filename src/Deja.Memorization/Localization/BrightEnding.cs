// TEMPORARY STUB until the bright-ending branch is merged
using Deja.Memorization.Models;
using Deja.Tensors;
namespace Deja.Memorization.Localization;
public static class BrightEnding
{
    public static int EndTokenIndex(int tokenCount, int maxLength = 77) => Math.Min(tokenCount - 1, maxLength - 1);
    public static Tensor EndTokenMaps(IDiffusionModelView model, Tensor latents, int t, Tensor conditions, IReadOnlyList<int> endTokenIndex) => throw new NotImplementedException();
}
