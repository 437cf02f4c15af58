using Deja.Memorization.Detection;
using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Detection;

/// <summary>Closed-form detector values on the analytic model, in double precision, written from METHODS.md directly.</summary>
static class AnalyticOracle
{
    public static double Norm(double[] a) => Math.Sqrt(a.Sum(v => v * v));
    public static double[] Sub(double[] a, double[] b) => a.Zip(b, (x, y) => x - y).ToArray();

    public static double MeanChannelCosine(GaussianMixtureModel m, double[] a, double[] b)
    {
        int c = m.LatentShape[0], hw = m.LatentShape[1] * m.LatentShape[2];
        double total = 0;
        for (int p = 0; p < hw; p++)
        {
            double dot = 0, na = 0, nb = 0;
            for (int ch = 0; ch < c; ch++) { double x = a[ch * hw + p], y = b[ch * hw + p]; dot += x * y; na += x * x; nb += y * y; }
            total += dot / Math.Max(Math.Sqrt(na * nb), 1e-8);
        }
        return total / hw;
    }

    /// <summary>(N, C) of Asthana's detector for one prompt over the given noise draws.</summary>
    public static (double N, double C) Anisotropy(GaussianMixtureModel m, string prompt, double[][] xs, int tN = 981, int tC = 41)
    {
        var w = m.WeightsOf(prompt); var nul = m.NullWeights;
        double n = 0, c = 0;
        foreach (var x in xs)
        {
            n += Norm(Sub(m.Epsilon(x, tN, w), m.Epsilon(x, tN, nul)));
            var u = m.Epsilon(x, tC, nul);
            c += MeanChannelCosine(m, u, Sub(m.Epsilon(x, tC, w), u));
        }
        return (n / xs.Length, c / xs.Length);
    }

    /// <summary>Wen's D over steps [start, end) of the CFG/DDIM trajectory, exact ε and the DDIM step of §0.4.</summary>
    public static double Magnitude(GaussianMixtureModel m, string prompt, double[][] xs, int start, int end, double guidance = 7.5, int steps = 50)
    {
        var w = m.WeightsOf(prompt); var nul = m.NullWeights;
        var ts = m.Scheduler.Timesteps(steps);
        double total = 0;
        foreach (var x0 in xs)
        {
            var x = (double[])x0.Clone();
            for (int k = 0; k < end; k++)
            {
                int t = ts[k];
                var eu = m.Epsilon(x, t, nul); var ec = m.Epsilon(x, t, w);
                if (k >= start) total += Norm(Sub(ec, eu));
                double a = m.AlphaBar(t), aPrev = t - 1000 / steps >= 0 ? m.AlphaBar(t - 1000 / steps) : m.Scheduler.FinalAlphaCumprod;
                for (int i = 0; i < x.Length; i++)
                {
                    double e = eu[i] + guidance * (ec[i] - eu[i]);
                    double xhat = (x[i] - Math.Sqrt(1 - a) * e) / Math.Sqrt(a);
                    x[i] = Math.Sqrt(aPrev) * xhat + Math.Sqrt(1 - aPrev) * e;
                }
            }
        }
        return total / (xs.Length * (end - start));
    }

    /// <summary>Jeon's mean_j ‖(H_c − H_u)·Δs‖ with the exact Hessian-vector products.</summary>
    public static double Sharpness(GaussianMixtureModel m, string prompt, double[][] xs, int t = 981)
    {
        var w = m.WeightsOf(prompt); var nul = m.NullWeights;
        double total = 0;
        foreach (var x in xs)
        {
            var ds = Sub(m.Score(x, t, w), m.Score(x, t, nul));
            total += Norm(Sub(m.ScoreJvp(x, t, w, ds), m.ScoreJvp(x, t, nul, ds)));
        }
        return total / xs.Length;
    }

    public static double[][] Noise(GaussianMixtureModel m, int seed, int n)
    {
        var g = new Generator(seed);
        return Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, m.Dimension).Select(_ => g.NextNormal()).ToArray()).ToArray();
    }

    public static Tensor ToTensor(GaussianMixtureModel m, double[][] xs) =>
        Tensor.FromArray(xs.SelectMany(x => x).Select(v => (float)v).ToArray(), [xs.Length, .. m.LatentShape]);

    /// <summary>A batch of prompts, all on the same noise (shared) or each on its own copy.</summary>
    public static PromptBatch Batch(GaussianMixtureModel m, string[] prompts, double[][] xs, bool shared = true)
    {
        var conditions = m.Encode(prompts).Conditions;
        var one = ToTensor(m, xs);
        var latents = prompts.Select(_ => shared ? one : ToTensor(m, xs)).ToArray();
        return new PromptBatch(conditions, m.NullCondition(), latents);
    }
}
