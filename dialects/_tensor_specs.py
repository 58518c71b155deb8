"""The table of tensor ops (torch function semantics), shared by the torch and hl dialects.

Attribute names follow the torch function's parameter names, so the importer and
the torch executor map arguments by name. Defaults are spelled out by the
importer (an op prints every argument that matters), except where noted.
"""

from __future__ import annotations

from irq.dialects import _shapes as sh
from irq.dialects import _shapes_select as shs
from irq.dialects._opspec import (
    ANY,
    BOOL,
    FLOAT,
    FLOATS,
    INT,
    INT_OR_INTS,
    INTS,
    INTS_OR_STR,
    NUMBER,
    STR,
    TYPE,
    OpSpec,
    spec,
)

_CONV = (("stride", INTS), ("padding", INTS_OR_STR), ("dilation", INTS), ("groups", INT))
_CONVT = (("stride", INTS), ("padding", INTS), ("output_padding", INTS), ("groups", INT), ("dilation", INTS))
_UNARY = ("relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "tanh", "silu", "exp", "neg", "sqrt", "rsqrt",
          "abs", "contiguous", "identity")

SPECS: dict[str, OpSpec] = {}


def _add(s: OpSpec) -> None:
    SPECS[s.name] = s


_add(spec("conv1d", "1-D convolution (F.conv1d, nn.Conv1d).", ("input", "weight", "bias?"), _CONV, shape=sh.conv(1)))
_add(spec("conv2d", "2-D convolution (F.conv2d, nn.Conv2d).", ("input", "weight", "bias?"), _CONV, shape=sh.conv(2)))
_add(spec("conv_transpose2d", "2-D transposed convolution (F.conv_transpose2d, nn.ConvTranspose2d).",
          ("input", "weight", "bias?"), _CONVT, shape=sh.conv_transpose(2)))
_add(spec("linear", "y = x W^T + b (F.linear, nn.Linear).", ("input", "weight", "bias?"), shape=sh.linear))
_add(spec("batch_norm", "Batch normalization; `training` absent means: follow the module's train/eval mode. "
          "`sync` (nn.SyncBatchNorm): batch statistics are all-reduced over the process group when training "
          "under torch.distributed.",
          ("input", "running_mean?", "running_var?", "weight?", "bias?", "num_batches_tracked?"),
          (("momentum?", FLOAT), ("eps", FLOAT), ("training?", BOOL), ("sync?", BOOL)), shape=sh.batch_norm_check))
_add(spec("layer_norm", "Layer normalization over the trailing `normalized_shape` dims.",
          ("input", "weight?", "bias?"), (("normalized_shape", INTS), ("eps", FLOAT)), shape=sh.layer_norm_check))
_add(spec("group_norm", "Group normalization.", ("input", "weight?", "bias?"),
          (("num_groups", INT), ("eps", FLOAT)), shape=sh.group_norm_check))
for _u in _UNARY:
    _add(spec(_u, f"Element-wise {_u}.", shape=sh.same_as_input))
_add(spec("hardtanh", "clamp(x, min_val, max_val) as an activation (relu6 is hardtanh(0, 6)).",
          attrs=(("min_val", FLOAT), ("max_val", FLOAT)), shape=sh.same_as_input))
_add(spec("leaky_relu", "max(x, 0) + negative_slope * min(x, 0).", attrs=(("negative_slope", FLOAT),),
          shape=sh.same_as_input))
_add(spec("gelu", "GELU; approximate = \"none\" or \"tanh\".", attrs=(("approximate", STR),),
          shape=sh.same_as_input))
# element-wise functions users call between layers (issue 12): each one lowers to a bpu.lut, as gelu does
for _u in ("selu", "mish", "logsigmoid", "softsign", "tanhshrink", "erf", "sin", "cos"):
    _add(spec(_u, f"Element-wise {_u} (torch's definition).", shape=sh.same_as_input))
for _u in ("elu", "celu"):
    _add(spec(_u, f"{_u.upper()} with its `alpha` (F.{_u}).", attrs=(("alpha", FLOAT),), shape=sh.same_as_input))
_add(spec("softplus", "log(1 + exp(beta * x)) / beta; x where beta * x > threshold (F.softplus).",
          attrs=(("beta", FLOAT), ("threshold", FLOAT)), shape=sh.same_as_input))
for _u in ("hardshrink", "softshrink"):
    _add(spec(_u, f"F.{_u} with its `lambd`.", attrs=(("lambd", FLOAT),), shape=sh.same_as_input))
_add(spec("pow_scalar", "x ** exponent for a Python number `exponent` (x.pow(2), torch.square, x ** 3); the "
          "frontend maps whole non-negative exponents only (a fractional power of a negative x is nan).",
          attrs=(("exponent", NUMBER),), shape=sh.same_as_input))
_add(spec("softmax", "Softmax along `dim`.", attrs=(("dim", INT),), shape=sh.same_along_dim))
_add(spec("log_softmax", "Log-softmax along `dim`.", attrs=(("dim", INT),), shape=sh.same_along_dim))
_add(spec("clamp", "Clamp to [min, max]; either bound may be absent.", attrs=(("min?", NUMBER), ("max?", NUMBER)),
          shape=sh.same_as_input))
_add(spec("dropout", "Dropout; `training` absent means: follow the module's train/eval mode. `kind` absent: "
          "element-wise (F.dropout); else dropout1d/2d/3d or feature_dropout (whole channels), alpha_dropout or "
          "feature_alpha_dropout. The identity in eval, whatever the kind.",
          attrs=(("p", FLOAT), ("training?", BOOL), ("kind?", STR)), shape=sh.dropout))
for _b in ("add", "sub", "mul", "div"):
    extra = (("alpha?", NUMBER),) if _b in ("add", "sub") else (("rounding_mode?", STR),) if _b == "div" else ()
    _add(spec(_b, f"Element-wise {_b} of two tensors, with broadcasting.", ("input", "other"), extra,
              shape=sh.broadcast, same_element_type=False))
    _add(spec(f"{_b}_scalar", f"Element-wise {_b} of a tensor and a Python number `other`.",
              ("input",), (("other", NUMBER), *extra), shape=sh.same_as_input, same_element_type=False))
for _b in ("sub", "div"):
    _add(spec(f"r{_b}_scalar", f"`other {'-' if _b == 'sub' else '/'} input` for a Python number `other`.",
              ("input",), (("other", NUMBER),), shape=sh.same_as_input, same_element_type=False))
_add(spec("matmul", "Matrix product with torch.matmul's broadcasting.", ("input", "other"), shape=sh.matmul,
          same_element_type=False))
_add(spec("bmm", "Batched matrix product [b,n,m] x [b,m,p].", ("input", "other"), shape=sh.bmm))
_add(spec("cat", "Concatenation along `dim`.", ("tensors*",), (("dim", INT),), shape=sh.cat,
          same_element_type=False))
_add(spec("stack", "Stack along a new `dim`.", ("tensors*",), (("dim", INT),), shape=sh.stack,
          same_element_type=False))
_add(spec("flatten", "Flatten dims start_dim..end_dim.", attrs=(("start_dim", INT), ("end_dim", INT)),
          shape=sh.flatten))
for _r in ("reshape", "view"):
    _add(spec(_r, f"{_r} to `shape`; an entry #torch.operand<i> is the runtime size in operand i.",
              ("input", "sizes*"), (("shape", ANY),), shape=sh.reshape))
_add(spec("permute", "Permute dimensions.", attrs=(("dims", INTS),), shape=sh.permute))
_add(spec("transpose", "Swap two dimensions.", attrs=(("dim0", INT), ("dim1", INT)), shape=sh.transpose))
_add(spec("unsqueeze", "Insert a size-1 dim.", attrs=(("dim", INT),), shape=sh.unsqueeze))
_add(spec("squeeze", "Remove size-1 dims (all, or `dim`).", attrs=(("dim?", INT_OR_INTS),), shape=sh.squeeze))
_add(spec("getitem", "Tensor indexing `input[index]`; `index` lists the entries of the index tuple.",
          ("input", "indices*"), (("index", ANY),), shape=sh.getitem))
_add(spec("slice", "input.narrow-style slice along `dim` (aten.slice).",
          attrs=(("dim", INT), ("start?", INT), ("end?", INT), ("step", INT)), shape=sh.slice_))
_add(spec("select", "input.select(dim, index) (aten.select).", attrs=(("dim", INT), ("index", INT)),
          shape=sh.select))
_add(spec("chunk", "Split into `chunks` pieces along `dim` (one result per piece).", attrs=(("chunks", INT),
          ("dim", INT)), variadic_results=True, shape=sh.chunk))
_add(spec("unbind", "The slices along `dim`, that dim removed (one result per index; torch.unbind).",
          attrs=(("dim", INT),), variadic_results=True, shape=sh.unbind))
_add(spec("split", "Split along `dim` by size or sizes (one result per piece).",
          attrs=(("split_size", INT_OR_INTS), ("dim", INT)), variadic_results=True, shape=sh.split))
_add(spec("interpolate", "Resize (F.interpolate, nn.Upsample); `size` entries may be #torch.operand<i> sizes.",
          ("input", "sizes*"),
          attrs=(("size?", ANY), ("scale_factor?", FLOATS), ("mode", STR), ("align_corners?", BOOL)),
          shape=sh.interpolate))
_add(spec("pad", "Pad the trailing dims (F.pad's pad list order).",
          attrs=(("pad", INTS), ("mode", STR), ("value?", FLOAT)), shape=sh.pad))
_add(spec("max_pool2d", "2-D max pooling. `adaptive_output_size` (an imported adaptive max pool): the executors "
          "compute F.adaptive_max_pool2d to that size, torch's result at any input size; kernel_size and stride are "
          "its windows at the traced size, which the bpu program keeps.",
          attrs=(("kernel_size", INTS), ("stride", INTS), ("padding", INTS), ("dilation", INTS), ("ceil_mode", BOOL),
                 ("adaptive_output_size?", INTS)), shape=sh.pool2d))
_add(spec("avg_pool2d", "2-D average pooling.", attrs=(("kernel_size", INTS), ("stride", INTS), ("padding", INTS),
          ("ceil_mode", BOOL), ("count_include_pad", BOOL), ("divisor_override?", INT)), shape=sh.pool2d))
_add(spec("adaptive_avg_pool2d", "2-D adaptive average pooling to `output_size`.", attrs=(("output_size", ANY),),
          shape=sh.adaptive_pool2d))
_add(spec("mean", "Mean over `dim` (all dims if absent).", attrs=(("dim?", INTS), ("keepdim", BOOL)),
          shape=sh.reduce))
_add(spec("sum", "Sum over `dim` (all dims if absent).", attrs=(("dim?", INTS), ("keepdim", BOOL)),
          shape=sh.reduce, same_element_type=False))
_add(spec("embedding", "Rows of `weight` picked by integer `input` (F.embedding, nn.Embedding).",
          ("input", "weight"), (("padding_idx?", INT),), shape=sh.embedding, same_element_type=False))
_add(spec("quant_stub", "Marks where the quantized part of the model starts (QuantStub); identity in float.",
          attrs=(("scale?", FLOAT),), shape=sh.same_as_input))
_add(spec("dequant_stub", "Marks where the quantized part of the model ends (DeQuantStub); identity in float.",
          shape=sh.same_as_input))

_add(spec("zeros_like", "Zeros of the input's shape (and dtype, unless `dtype` is given).",
          attrs=(("dtype?", TYPE),), shape=sh.same_as_input, same_element_type=False))
_add(spec("ones_like", "Ones of the input's shape (and dtype, unless `dtype` is given).",
          attrs=(("dtype?", TYPE),), shape=sh.same_as_input, same_element_type=False))
_add(spec("full_like", "`fill_value` in the input's shape (and dtype, unless `dtype` is given).",
          attrs=(("fill_value", NUMBER), ("dtype?", TYPE)), shape=sh.same_as_input, same_element_type=False))
_add(spec("where", "`input` where `condition` holds, else `other` (all three broadcast).",
          ("condition", "input", "other"), shape=sh.broadcast, same_element_type=False))
_add(spec("where_scalar", "where(condition, value, input) if `value_first`, else where(condition, input, value), "
          "for a Python number `value` (torch.where with a scalar, Tensor.masked_fill).",
          ("condition", "input"), (("value", NUMBER), ("value_first", BOOL)), shape=sh.broadcast,
          same_element_type=False))
for _m in ("maximum", "minimum"):
    _add(spec(_m, f"Element-wise {_m} of two tensors, with broadcasting.", ("input", "other"), shape=sh.broadcast,
              same_element_type=False))
# issue 12: comparisons (their i1 masks feed where / where_scalar; `predicate` is gt, ge, lt, le, eq or ne)
_add(spec("compare", "Element-wise `input <predicate> other` of two tensors, with broadcasting: an i1 mask "
          "(torch.gt/ge/lt/le/eq/ne, `x > y`).", ("input", "other"), (("predicate", STR),), shape=sh.broadcast,
          same_element_type=False))
_add(spec("compare_scalar", "Element-wise `input <predicate> other` for a Python number `other`: an i1 mask "
          "(`x > 0`, `mask == 0`).", attrs=(("predicate", STR), ("other", NUMBER)), shape=sh.same_as_input,
          same_element_type=False))
# issue 12: logic on masks (i1 in, i1 out): `~m`, `m1 & m2`, torch.logical_* on comparison outputs
_add(spec("logical", "Element-wise `input <kind> other` of two i1 masks, with broadcasting; `kind` is and, or or "
          "xor (`m1 & m2`, torch.logical_and / bitwise_and on bool tensors).", ("input", "other"), (("kind", STR),),
          shape=sh.broadcast, same_element_type=False))
_add(spec("logical_not", "Element-wise negation of an i1 mask (`~m`, torch.logical_not, Tensor.logical_not).",
          shape=sh.same_as_input))
_add(spec("roll", "Roll by `shifts` along `dims` (the flattened tensor if `dims` is absent).",
          attrs=(("shifts", INTS), ("dims?", INTS)), shape=sh.roll))
_add(spec("cumsum", "Cumulative sum along `dim` (integer inputs sum in i64, as torch does).",
          attrs=(("dim", INT),), shape=sh.same_along_dim, same_element_type=False))
_add(spec("topk", "The `k` largest (or smallest) entries along `dim`: values, then i64 indices.",
          attrs=(("k", INT), ("dim", INT), ("largest", BOOL), ("sorted", BOOL)), variadic_results=True,
          shape=sh.topk, index_results=(1,)))
# issue 12: selections and broadcasts that keep the codes (hl.DATA_MOVEMENT: the input's quantizer passes through)
_add(spec("flip", "Reverse the order along each of `dims` (torch.flip).", attrs=(("dims", INTS),), shape=shs.flip))
_add(spec("expand", "Broadcast size-1 dims to `shape` (-1 keeps a dim; Tensor.expand / expand_as); an entry "
          "#torch.operand<i> is the runtime size in operand i.", ("input", "sizes*"), (("shape", ANY),),
          shape=shs.expand))
_add(spec("expand_as", "`input` broadcast to `other`'s shape (Tensor.expand_as).", ("input", "other"),
          shape=shs.expand_as, same_element_type=False))
_add(spec("repeat", "Tile `repeats` times along each dim; extra leading repeats add dims (Tensor.repeat).",
          attrs=(("repeats", INTS),), shape=shs.repeat))
_add(spec("index_select", "The entries of the 1-D integer `index` along `dim` (torch.index_select, x[:, idx]).",
          ("input", "index"), (("dim", INT),), shape=shs.index_select))
_add(spec("gather", "out[..., j, ...] = input[..., index[..., j, ...], ...] along `dim` (torch.gather); the "
          "result has the integer `index`'s shape.", ("input", "index"), (("dim", INT),), shape=shs.gather))
for _r in ("amax", "amin"):
    _add(spec(_r, f"{'Maximum' if _r == 'amax' else 'Minimum'} over `dim` (all dims if absent; torch.{_r}).",
              attrs=(("dim?", INTS), ("keepdim", BOOL)), shape=sh.reduce))
for _r in ("max_dim", "min_dim"):
    _add(spec(_r, f"torch.{_r[:3]}(x, dim): the values and their i64 indices over one dim.",
              attrs=(("dim", INT), ("keepdim", BOOL)), variadic_results=True, shape=shs.reduce_pair,
              index_results=(1,)))
_add(spec("pixel_shuffle", "[*, C*r*r, H, W] -> [*, C, H*r, W*r] (F.pixel_shuffle, nn.PixelShuffle).",
          attrs=(("upscale_factor", INT),), shape=sh.pixel_shuffle))
_add(spec("pixel_unshuffle", "[*, C, H*r, W*r] -> [*, C*r*r, H, W] (F.pixel_unshuffle, nn.PixelUnshuffle).",
          attrs=(("downscale_factor", INT),), shape=sh.pixel_unshuffle))
_add(spec("instance_norm", "Instance normalization (F.instance_norm, nn.InstanceNorm1d/2d/3d).",
          ("input", "running_mean?", "running_var?", "weight?", "bias?"),
          (("use_input_stats", BOOL), ("momentum", FLOAT), ("eps", FLOAT)), shape=sh.batch_norm_check))
_add(spec("prelu", "max(0, x) + weight * min(0, x), one weight per channel (dim 1) or one for all.",
          ("input", "weight"), shape=sh.same_as_input))

#: Ops whose operand lists are (input, weight, bias?) and are candidates for fusion.
WEIGHTED = ("conv1d", "conv2d", "conv_transpose2d", "linear")
