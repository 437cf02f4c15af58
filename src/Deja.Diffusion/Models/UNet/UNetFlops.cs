using Deja.Diffusion.IO;

namespace Deja.Diffusion.Models.UNet;

/// <summary>
/// Floating-point operations of one UNet forward, counted analytically from the config (a
/// multiply-add is 2): convolutions, linear layers (incl. proj_in/out, q/k/v/out, feed-forward,
/// time embedding) and the attention products q·kᵀ and p·v. Norms and elementwise work are left out.
/// SD1 at batch 2, 64×64, 77 tokens: ≈ 1,606.5 GFLOP.
/// </summary>
public readonly record struct UNetFlops(double Conv, double Linear, double Attention)
{
    public double Total => Conv + Linear + Attention;

    public static UNetFlops Count(UNet2DConditionConfig c, int batch, int height, int width, int contextLength = 77)
    {
        double conv = 0, linear = 0, attention = 0;
        int n = c.BlockOutChannels.Length, c0 = c.BlockOutChannels[0], temb = c.TimeEmbedDim;
        void Conv(int cin, int cout, int k, int h, int w) => conv += 2.0 * batch * h * w * cin * cout * k * k;
        void Linear(int inF, int outF, double rows) => linear += 2.0 * inF * outF * rows;
        void Resnet(int cin, int cout, int h, int w)
        {
            Conv(cin, cout, 3, h, w);
            Conv(cout, cout, 3, h, w);
            if (cin != cout) Conv(cin, cout, 1, h, w);
            Linear(temb, cout, batch);
        }
        void Transformer(int ch, int level, int h, int w)
        {
            double tokens = (double)batch * h * w;
            int context = c.CrossAttentionDim[level];
            Linear(ch, ch, 2 * tokens); // proj_in, proj_out
            for (int k = 0; k < c.TransformerLayersPerBlock[level]; k++)
            {
                Linear(ch, ch, 4 * tokens); // attn1 q, k, v, out
                attention += 4.0 * tokens * h * w * ch;
                Linear(ch, ch, 2 * tokens); // attn2 q, out
                Linear(context, ch, 2.0 * batch * contextLength); // attn2 k, v
                attention += 4.0 * tokens * contextLength * ch;
                Linear(ch, 8 * ch, tokens); // GEGLU projection
                Linear(4 * ch, ch, tokens);
            }
        }

        Linear(c0, temb, batch);
        Linear(temb, temb, batch);
        Conv(c.InChannels, c0, c.ConvInKernel, height, width);
        int hh = height, ww = width;
        var sizes = new (int H, int W)[n];
        for (int i = 0; i < n; i++)
        {
            int cin = i == 0 ? c0 : c.BlockOutChannels[i - 1], cout = c.BlockOutChannels[i];
            bool attn = c.DownBlockTypes[i].StartsWith("CrossAttn", StringComparison.Ordinal);
            for (int j = 0; j < c.LayersPerBlock[i]; j++)
            {
                Resnet(j == 0 ? cin : cout, cout, hh, ww);
                if (attn) Transformer(cout, i, hh, ww);
            }
            sizes[i] = (hh, ww);
            if (i < n - 1)
            {
                (hh, ww) = ((hh + 1) / 2, (ww + 1) / 2);
                Conv(cout, cout, 3, hh, ww);
            }
        }
        int last = c.BlockOutChannels[^1];
        Resnet(last, last, hh, ww);
        Transformer(last, n - 1, hh, ww);
        Resnet(last, last, hh, ww);
        int previous = last;
        for (int i = 0; i < n; i++)
        {
            int r = n - 1 - i, output = c.BlockOutChannels[r], input = c.BlockOutChannels[Math.Max(r - 1, 0)];
            bool attn = c.UpBlockTypes[i].StartsWith("CrossAttn", StringComparison.Ordinal);
            int layers = c.LayersPerBlock[r] + 1;
            for (int j = 0; j < layers; j++)
            {
                Resnet((j == 0 ? previous : output) + (j == layers - 1 ? input : output), output, hh, ww);
                if (attn) Transformer(output, r, hh, ww);
            }
            if (i < n - 1)
            {
                (hh, ww) = sizes[r - 1];
                Conv(output, output, 3, hh, ww);
            }
            previous = output;
        }
        Conv(c0, c.OutChannels, c.ConvOutKernel, hh, ww);
        return new UNetFlops(conv, linear, attention);
    }
}
