using Deja.Tensors.Kernels;

namespace Deja.Tensors;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution (cross-correlation, as PyTorch's F.conv2d with groups 1 and dilation 1):
    /// x [N,C,H,W], weight [O,C,kh,kw], optional bias [O] → [N,O,Ho,Wo] with
    /// Ho = (H + 2·padding − kh) / stride + 1 (likewise Wo). Differentiable to any order: its
    /// gradients are <see cref="Conv2dInputGrad"/> and <see cref="Conv2dWeightGrad"/>, themselves
    /// differentiable, so a createGraph backward (Hessian-vector products) works through it.
    /// </summary>
    public static unsafe Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0)
    {
        const string op = "conv2d";
        CheckConvArgs(op, stride, padding);
        if (x.Rank != 4) throw new ArgumentException($"{op}: input must be [N,C,H,W], got {Shapes.Str(x.Shape)}");
        CheckWeight(op, weight);
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        int o = weight.Shape[0], kh = weight.Shape[2], kw = weight.Shape[3];
        if (weight.Shape[1] != c)
            throw new ArgumentException($"{op}: input {Shapes.Str(x.Shape)} has {c} channels but weight {Shapes.Str(weight.Shape)} expects {weight.Shape[1]}");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != o))
            throw new ArgumentException($"{op}: bias {Shapes.Str(bias.Shape)} does not match the {o} output channels of weight {Shapes.Str(weight.Shape)}");
        var g = Geometry(op, x.Shape, weight.Shape, stride, padding);
        var y = Tensor.Empty(n, o, g.Ho, g.Wo);
        fixed (float* px = x.Array) fixed (float* pw = weight.Array) fixed (float* py = y.Array)
        fixed (float* pb = bias is null ? null : bias.Array)
            ConvKernels.Forward(g, px + x.Offset, pw + weight.Offset, bias is null ? null : pb + bias.Offset, py + y.Offset);

        var inputs = bias is null ? new[] { x, weight } : new[] { x, weight, bias };
        // The input is read only by the weight gradient: with frozen weights it is not kept.
        bool needX = x.RequiresGrad, needW = weight.RequiresGrad;
        return Autograd.Record(y, op, inputs, gy =>
        {
            var grads = new Tensor?[inputs.Length];
            if (needX) grads[0] = Conv2dInputGrad(gy, weight, h, w, stride, padding);
            if (needW) grads[1] = Conv2dWeightGrad(gy, x, kh, kw, stride, padding);
            if (bias is not null && bias.RequiresGrad) grads[2] = Conv2dBiasGrad(gy);
            return grads;
        }, SavedFor(needX, weight, needW, x));
    }

    /// <summary>
    /// The gradient of <see cref="Conv2d"/> with respect to its input (a transposed convolution):
    /// gradOutput [N,O,Ho,Wo] and weight [O,C,kh,kw] → [N,C,height,width]. The input size is needed
    /// because with stride &gt; 1 several input sizes give the same output size.
    /// </summary>
    public static unsafe Tensor Conv2dInputGrad(Tensor gradOutput, Tensor weight, int height, int width, int stride = 1, int padding = 0)
    {
        const string op = "conv2d_input_grad";
        CheckConvArgs(op, stride, padding);
        CheckWeight(op, weight);
        int o = weight.Shape[0], c = weight.Shape[1], kh = weight.Shape[2], kw = weight.Shape[3];
        if (gradOutput.Rank != 4 || gradOutput.Shape[1] != o)
            throw new ArgumentException($"{op}: output gradient {Shapes.Str(gradOutput.Shape)} is not [N,{o},Ho,Wo] for weight {Shapes.Str(weight.Shape)}");
        int n = gradOutput.Shape[0];
        int[] xShape = [n, c, height, width];
        var g = Geometry(op, xShape, weight.Shape, stride, padding);
        CheckOutputSize(op, g, gradOutput, xShape);
        var dx = Tensor.Empty(xShape);
        fixed (float* pg = gradOutput.Array) fixed (float* pw = weight.Array) fixed (float* pd = dx.Array)
            ConvKernels.InputGrad(g, pg + gradOutput.Offset, pw + weight.Offset, pd + dx.Offset);
        // ⟨dx, u⟩ = ⟨gradOutput, conv2d(u, weight)⟩, bilinear in (gradOutput, weight)
        return Autograd.Record(dx, op, [gradOutput, weight], u =>
        [
            gradOutput.RequiresGrad ? Conv2d(u, weight, null, stride, padding) : null,
            weight.RequiresGrad ? Conv2dWeightGrad(gradOutput, u, kh, kw, stride, padding) : null,
        ], gradOutput, weight);
    }

    /// <summary>
    /// The gradient of <see cref="Conv2d"/> with respect to its weight: gradOutput [N,O,Ho,Wo] and
    /// input [N,C,H,W] → [O,C,kh,kw], summed over the batch.
    /// </summary>
    public static unsafe Tensor Conv2dWeightGrad(Tensor gradOutput, Tensor input, int kernelHeight, int kernelWidth, int stride = 1, int padding = 0)
    {
        const string op = "conv2d_weight_grad";
        CheckConvArgs(op, stride, padding);
        if (input.Rank != 4) throw new ArgumentException($"{op}: input must be [N,C,H,W], got {Shapes.Str(input.Shape)}");
        if (gradOutput.Rank != 4 || gradOutput.Shape[0] != input.Shape[0])
            throw new ArgumentException($"{op}: output gradient {Shapes.Str(gradOutput.Shape)} is not [{input.Shape[0]},O,Ho,Wo] for input {Shapes.Str(input.Shape)}");
        int o = gradOutput.Shape[1], c = input.Shape[1], h = input.Shape[2], w = input.Shape[3];
        int[] wShape = [o, c, kernelHeight, kernelWidth];
        if (o < 1 || kernelHeight < 1 || kernelWidth < 1)
            throw new ArgumentException($"{op}: weight shape {Shapes.Str(wShape)} has an empty dimension");
        var g = Geometry(op, input.Shape, wShape, stride, padding);
        CheckOutputSize(op, g, gradOutput, input.Shape);
        var dw = Tensor.Empty(wShape);
        fixed (float* pg = gradOutput.Array) fixed (float* px = input.Array) fixed (float* pd = dw.Array)
            ConvKernels.WeightGrad(g, pg + gradOutput.Offset, px + input.Offset, pd + dw.Offset);
        // ⟨dw, U⟩ = ⟨gradOutput, conv2d(input, U)⟩, bilinear in (gradOutput, input)
        return Autograd.Record(dw, op, [gradOutput, input], u =>
        [
            gradOutput.RequiresGrad ? Conv2d(input, u, null, stride, padding) : null,
            input.RequiresGrad ? Conv2dInputGrad(gradOutput, u, h, w, stride, padding) : null,
        ], gradOutput, input);
    }

    /// <summary>Sum of gradOutput [N,O,Ho,Wo] over everything but the channel: the bias gradient.</summary>
    static unsafe Tensor Conv2dBiasGrad(Tensor gradOutput)
    {
        int n = gradOutput.Shape[0], o = gradOutput.Shape[1], plane = gradOutput.Shape[2] * gradOutput.Shape[3];
        var db = Tensor.Empty(o);
        fixed (float* pg = gradOutput.Array) fixed (float* pd = db.Array)
            ConvKernels.BiasGrad(pg + gradOutput.Offset, n, o, plane, pd + db.Offset);
        var shape = gradOutput.Shape;
        return Autograd.Record(db, "conv2d_bias_grad", [gradOutput], u =>
        {
            var u4 = Reshape(u, 1, o, 1, 1);
            var e = BroadcastTo(u4, shape);
            if (!ReferenceEquals(u4, u) && !ReferenceEquals(u4, e)) u4.Dispose();
            return [e];
        });
    }

    static void CheckConvArgs(string op, int stride, int padding)
    {
        if (stride < 1) throw new ArgumentException($"{op}: stride must be at least 1, got {stride}");
        if (padding < 0) throw new ArgumentException($"{op}: padding must not be negative, got {padding}");
    }

    static void CheckWeight(string op, Tensor weight)
    {
        if (weight.Rank != 4) throw new ArgumentException($"{op}: weight must be [O,C,kh,kw], got {Shapes.Str(weight.Shape)}");
        foreach (var d in weight.Shape)
            if (d < 1) throw new ArgumentException($"{op}: weight {Shapes.Str(weight.Shape)} has an empty dimension");
    }

    static ConvGeometry Geometry(string op, int[] xShape, int[] wShape, int stride, int padding)
    {
        int n = xShape[0], c = xShape[1], h = xShape[2], w = xShape[3];
        int kh = wShape[2], kw = wShape[3];
        if (c < 1 || h < 1 || w < 1)
            throw new ArgumentException($"{op}: input {Shapes.Str(xShape)} has an empty channel or spatial dimension");
        if (h + 2L * padding < kh || w + 2L * padding < kw)
            throw new ArgumentException($"{op}: kernel {kh}x{kw} (weight {Shapes.Str(wShape)}) is larger than the input {Shapes.Str(xShape)} padded by {padding}");
        var g = new ConvGeometry(n, c, h, w, wShape[0], kh, kw, stride, padding);
        // the layout's buffers and output are single arrays
        Shapes.Numel([n, wShape[0], g.Ho, g.Wo]);
        if (g.PhaseLength > Array.MaxLength || g.WideLength > Array.MaxLength)
            throw new ArgumentException($"{op}: input {Shapes.Str(xShape)} with weight {Shapes.Str(wShape)} needs buffers larger than an array can hold");
        return g;
    }

    static void CheckOutputSize(string op, ConvGeometry g, Tensor gradOutput, int[] xShape)
    {
        if (gradOutput.Shape[2] != g.Ho || gradOutput.Shape[3] != g.Wo)
            throw new ArgumentException($"{op}: output gradient {Shapes.Str(gradOutput.Shape)} does not match the {g.Ho}x{g.Wo} output of input {Shapes.Str(xShape)} (stride {g.Stride}, padding {g.Pad})");
    }
}
