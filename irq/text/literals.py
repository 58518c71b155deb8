"""`dense<...>` and `array<...>` literals: parse and print.

Dense literals are parsed from their whole token with numpy, not token by token
through the grammar: a nested list is checked for a rectangular shape with one
regex pass, then converted in bulk; a hex literal (`dense<"0x...">`, raw
little-endian data as MLIR prints it) is one `bytes.fromhex`.
"""

from __future__ import annotations

import math
import re

from irq._lazy import numpy as np
from irq.ir.attributes import DenseArrayAttr
from irq.ir.dense import DenseElementsAttr, elements_dtype, storage_dtype, to_storage
from irq.ir.dense_small import hex_item_bytes, is_small_float, small_from_hex, small_to_hex
from irq.ir.dense_wide import canonical_wide_bytes, complex_parts, complex_storage, is_wide_int, wide_int_values
from irq.ir.types import ComplexType, FloatType, IntegerType, ShapedType, Type
from irq.text.float_specials import hex_float_value, is_hex_float, is_special, special_bits
from irq.text.floats import decimal_value, float_bits, float_from_bits, format_float, hex_digits
from irq.text.type_parser import BodySyntaxError

#: Dense values with more elements than this print as hex, never as decimal lists.
MAX_DECIMAL_ELEMENTS = 64

#: Longest decimal integer literal accepted: Python's own limit for converting decimal text
#: (sys.get_int_max_str_digits), which guards against quadratic-time conversion. Hex literals
#: convert in linear time and have no limit.
MAX_DECIMAL_DIGITS = 4300


def decimal_int(text: str) -> int:
    """An integer literal (`42`, `-7`, `0x2A`), with a clear ValueError for malformed or over-long text.

    A negated zero (`-0`, `-00`, `-0x0`) is out of range, as in MLIR, whose parser negates the
    magnitude and calls a result without its sign bit an overflow (attributes, dense and
    array elements alike)."""
    if text.startswith(("0x", "-0x", "+0x")):
        value = int(text, 16)
    else:
        digits = len(text) - (text[:1] in "+-")
        if digits > MAX_DECIMAL_DIGITS:
            raise ValueError(f"integer literal has {digits} digits, more than the {MAX_DECIMAL_DIGITS} accepted")
        value = int(text)
    if value == 0 and text.startswith("-"):
        raise ValueError(f"integer constant '{text}' out of range (a negated zero, which MLIR refuses)")
    return value


#: `[`, `]`, `,` or one element: a complex `(re, im)` pair or a run of other characters.
_ELEMENT = re.compile(r"\s*(?:(\[)|(\])|(,)|(\([^()\[\]]*\)|[^\[\],\s]+))")


def _nested_elements(body: str, base: int) -> tuple[list[str], list[int]]:
    """Flatten a nested list literal, returning its element texts and rectangular shape."""
    items: list[str] = []
    shape: list[int] = []
    counts: list[int] = []
    expect_value = True
    pos = 0
    n = len(body)
    depth = 0
    while pos < n:
        m = _ELEMENT.match(body, pos)
        if m is None:
            if body[pos:].strip() == "":
                break
            raise BodySyntaxError(base + pos, "malformed dense literal")
        pos = m.end()
        if m.group(1):
            if not expect_value:
                raise BodySyntaxError(base + m.start(1), "expected ',' or ']' in dense literal")
            counts.append(0)
            depth += 1
            if len(shape) < depth:
                if items:
                    raise BodySyntaxError(base + m.start(1), "dense literal is not rectangular")
                shape.append(-1)
        elif m.group(2):
            if not counts:
                raise BodySyntaxError(base + m.start(2), "unbalanced ']' in dense literal")
            c = counts.pop()
            if expect_value and c > 0:
                raise BodySyntaxError(base + m.start(2), "expected a value before ']'")
            d = depth - 1
            if shape[d] == -1:
                shape[d] = c
            elif shape[d] != c:
                raise BodySyntaxError(
                    base + m.start(2),
                    f"dense literal is not rectangular: {c} elements where {shape[d]} were seen before",
                )
            depth -= 1
            if counts:
                counts[-1] += 1
            expect_value = False
        elif m.group(3):
            if expect_value or not counts:
                raise BodySyntaxError(base + m.start(3), "unexpected ',' in dense literal")
            expect_value = True
        else:
            if not expect_value or not counts:
                raise BodySyntaxError(base + m.start(4), "expected ',' or ']' in dense literal")
            if depth != len(shape):
                raise BodySyntaxError(base + m.start(4), "dense literal is not rectangular")
            items.append(m.group(4))
            counts[-1] += 1
            expect_value = False
    if counts:
        raise BodySyntaxError(base + n, "missing ']' in dense literal")
    return items, shape


def _convert(items: list[str], et: Type, base: int) -> np.ndarray:
    if isinstance(et, ComplexType):
        return _complex_storage(items, et, base)
    if isinstance(et, IntegerType) and items and items[0].startswith("("):
        raise BodySyntaxError(base, f"malformed dense element: a complex value for {et}")
    try:
        if isinstance(et, IntegerType) and et.width == 1:
            vals = []
            for s in items:
                if s in ("true", "false"):
                    vals.append(s == "true")
                else:
                    vals.append(decimal_int(s) != 0)
            return np.array(vals, dtype=np.bool_)
        if isinstance(et, FloatType):
            return _float_storage(items, et)
        return np.array([decimal_int(s) for s in items], dtype=object)
    except ValueError as e:
        raise BodySyntaxError(base, f"malformed dense element: {e}") from None


def _complex_storage(items: list[str], et: ComplexType, base: int) -> np.ndarray:
    """`(re, im)` items -> complex elements: each part converted as an element of the part type."""
    re_items, im_items = [], []
    for item in items:
        parts = item[1:-1].split(",") if item.startswith("(") and item.endswith(")") else []
        if len(parts) != 2:
            raise BodySyntaxError(base, f"malformed dense element '{item}': complex values are written (re, im)")
        re_items.append(parts[0].strip())
        im_items.append(parts[1].strip())
    part = et.element_type
    try:
        re, im = (to_storage(_convert(p, part, base), part) for p in (re_items, im_items))
    except ValueError as e:
        raise BodySyntaxError(base, str(e)) from None
    return complex_storage(re, im, elements_dtype(et))


_DECIMAL_INT = re.compile(r"[-+]?[0-9]+")


def _float_storage(items: list[str], et: FloatType) -> np.ndarray:
    """Storage array for float literals; hex items (`0x7FC00001`) set the exact bits, payloads included."""
    dt = storage_dtype(et)
    if _WORD_LETTER.search(",".join(items)):  # one scan: most literals are plain decimals or hex bits
        items = [_as_bit_pattern(s, et.kind) for s in items]
    for s in items:  # MLIR: `dense<[4]> : tensor<1xf32>` is an error; floats are written `4.0`
        if _DECIMAL_INT.fullmatch(s):
            raise ValueError(f"expected floating-point elements, but parsed integer '{s}'")
    if is_small_float(et):  # bit patterns, each decimal rounded once from its exact value
        bits_list = []
        for s in items:
            if s.startswith("0x"):
                b = int(s, 16)
                float_from_bits(b, et.kind)  # range check
                bits_list.append(b)
            else:
                bits_list.append(float_bits(decimal_value(s, et.kind), et.kind))
        return np.array(bits_list, dtype=dt)
    hex_at = [i for i, s in enumerate(items) if s.startswith("0x")]
    decimals = ["0" if s.startswith("0x") else s for s in items] if hex_at else items
    values = np.array(decimals, dtype=np.float64) if items else np.zeros(0)
    if et.kind == "bf16":
        # from the doubles: rounding through f32 first would round twice (1 + 2^-8 + 2^-30 -> 1.0, not 1.0078125)
        arr = to_storage(values, et)
    else:
        with np.errstate(over="ignore"):
            arr = values.astype(dt)
    if et.kind != "f64" and items:
        _round_ties_exactly(items, values, arr, et)
    if hex_at:
        bits = arr.view(np.dtype(f"u{dt.itemsize}"))
        for i in hex_at:
            b = int(items[i], 16)
            float_from_bits(b, et.kind)  # range check: ValueError if the pattern is too wide
            bits[i] = b
    return arr


#: A letter that no decimal (`e`) or hex bit pattern (`x`, `a`-`f`) has: a keyword or a `p` exponent.
_WORD_LETTER = re.compile(r"[g-wyzG-WYZ]")


def _as_bit_pattern(item: str, kind: str) -> str:
    """Current MLIR's `+inf`/`-nan(0x1)` and C-style hex floats (`0x1.8p3`) as the hex bit pattern
    of their value in the kind (irq.text.float_specials); any other element as written."""
    if is_special(item):
        return f"0x{special_bits(item, kind):X}"
    if item.lstrip("+-")[:1].isalpha():  # a bare `inf`/`nan` is no MLIR literal (numpy would read it)
        raise ValueError(f"expected element literal of primitive type, found '{item}'")
    if item.startswith(("0x", "-0x", "0X", "-0X")) and is_hex_float(item):
        return f"0x{float_bits(hex_float_value(item, kind), kind):X}"
    return item


def _round_ties_exactly(items: list[str], values: np.ndarray, arr: np.ndarray, et: FloatType) -> None:
    """Re-round, from the exact decimal, the elements whose double lies on a rounding boundary of
    the kind (its neighbours round apart): only there does rounding through the double differ
    from MLIR's single rounding (irq.text.floats.decimal_value)."""

    def bits_of(v: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            r = to_storage(v, et) if et.kind == "bf16" else v.astype(arr.dtype)
        return r.view(np.dtype(f"u{arr.dtype.itemsize}"))

    with np.errstate(over="ignore", invalid="ignore"):
        suspect = (bits_of(np.nextafter(values, -np.inf)) != bits_of(np.nextafter(values, np.inf))) & (values != 0)
    if not suspect.any():
        return
    out = arr.view(np.dtype(f"u{arr.dtype.itemsize}"))
    for i in np.flatnonzero(suspect).tolist():
        if not items[i].startswith("0x"):
            out[i] = float_bits(decimal_value(items[i], et.kind), et.kind)


def _narrow_signed(et: Type, arr: np.ndarray) -> bool:
    """Whether `et` is a signless or signed integer narrower than the bytes an element takes (`i4`,
    `si12`): its hex text holds only the low `width` bits. An unsigned element keeps its whole
    bytes both ways, as MLIR C++ does (`"0x18" : tensor<1xui4>` is 24 there)."""
    return (
        isinstance(et, IntegerType)
        and et.signedness != "u"
        and 1 < et.width < 8 * arr.dtype.itemsize
        and not is_wide_int(et)
    )


def _low_bits(arr: np.ndarray, et: IntegerType) -> np.ndarray:
    """The values of a hex literal's elements of a signless or signed type narrower than their
    bytes (`i4` in one byte, `i12` in two): MLIR reads the low `width` bits, sign-extended
    (`"0x0F" : tensor<1xi4>` is -1, `"0x1F"` too). The whole bytes were kept before, a value out of
    the type's range: a wrong number with no error (tests/test_mlir_hex_narrow_ints.py)."""
    w = et.width
    bits = arr.view(np.dtype(f"u{arr.dtype.itemsize}")) & ((1 << w) - 1)
    sign = 1 << (w - 1)
    return ((bits.astype(np.int64) ^ sign) - sign).astype(arr.dtype)


def parse_dense(token: str, type: Type) -> DenseElementsAttr:
    """Build the attribute for a `dense<...>` token and its `: type`."""
    if not isinstance(type, ShapedType) or not type.has_static_shape:
        raise BodySyntaxError(0, f"dense literal needs a static tensor or vector type, got {type}")
    body = token[6:-1]
    base = 6
    stripped = body.strip()
    et = type.element_type
    try:
        elements_dtype(et)
    except TypeError as e:
        raise BodySyntaxError(0, str(e)) from None
    if stripped.startswith('"'):
        if not (stripped.startswith('"0x') and stripped.endswith('"')):
            raise BodySyntaxError(base, 'expected a hex string "0x..." in dense literal')
        try:
            raw = bytes.fromhex(stripped[3:-1])
        except ValueError:
            raise BodySyntaxError(base, "malformed hex in dense literal") from None
        n = type.num_elements
        if is_small_float(et):
            k = hex_item_bytes(et)
            if len(raw) not in (k, n * k):
                raise BodySyntaxError(base, f"hex dense literal has {len(raw)} bytes, {type} needs {n * k}")
            arr = small_from_hex(raw, et)
            return DenseElementsAttr(type, arr.reshape(()) if len(raw) == k else arr.reshape(type.shape))
        dt = elements_dtype(et)
        if len(raw) == dt.itemsize:
            arr = np.frombuffer(raw, dtype=dt).reshape(())
        elif len(raw) == n * dt.itemsize:
            arr = np.frombuffer(raw, dtype=dt).reshape(type.shape)
        else:
            raise BodySyntaxError(base, f"hex dense literal has {len(raw)} bytes, {type} needs {n * dt.itemsize}")
        if is_wide_int(et):
            arr = canonical_wide_bytes(arr, et)
        elif _narrow_signed(et, arr):
            arr = _low_bits(arr, et)
        return DenseElementsAttr(type, arr)
    if not stripped.startswith("["):
        if stripped == "":
            if type.num_elements == 0:  # `dense<>`: MLIR's text for a value with no elements
                try:
                    return DenseElementsAttr(type, np.zeros(0, elements_dtype(et)))
                except ValueError as e:
                    raise BodySyntaxError(base, str(e)) from None
            raise BodySyntaxError(base, f"empty dense literal for {type}, which has {type.num_elements} elements")
        arr = _convert([stripped], et, base)
        try:
            return DenseElementsAttr(type, arr.reshape(()))
        except ValueError as e:
            raise BodySyntaxError(base, str(e)) from None
    items, shape = _nested_elements(body, base)
    if shape and shape[-1] == -1:
        shape[-1] = 0
    if tuple(shape) != type.shape and not (len(items) == 0 and type.num_elements == 0):
        raise BodySyntaxError(base, f"dense literal shape {list(shape)} does not match {type}")
    arr = _convert(items, et, base)
    try:
        return DenseElementsAttr(type, arr.reshape(type.shape) if arr.size else np.zeros(0, elements_dtype(et)))
    except ValueError as e:
        raise BodySyntaxError(base, str(e)) from None


def _element_text(v: object, et: Type, bits: int | None = None) -> str:
    if isinstance(et, ComplexType):
        raise TypeError("complex elements print through _complex_texts")
    if isinstance(et, FloatType):
        if bits is not None and not math.isfinite(float(v)):
            return f"0x{bits:0{hex_digits(et.kind)}X}"  # the exact NaN bits
        return format_float(float(v), et.kind)
    if isinstance(et, IntegerType) and et.width == 1:
        return "true" if v else "false"
    return str(int(v))


def dense_body(attr: DenseElementsAttr) -> str:
    """Text between `dense<` and `>`."""
    et = attr.type.element_type
    raw = attr.raw
    if isinstance(et, ComplexType):
        return _complex_body(attr, et)
    if attr.is_splat:
        v = attr.splat_value()
        bits = int(raw.view(np.dtype(f"u{raw.dtype.itemsize}"))) if isinstance(et, FloatType) else None
        return _element_text(v, et, bits)
    if attr.type.num_elements == 0:
        return ""  # MLIR prints empty elements as `dense<>`
    if raw.size > MAX_DECIMAL_ELEMENTS and not (isinstance(et, IntegerType) and et.width == 1):
        if is_small_float(et):
            data = small_to_hex(raw, et)
        elif _narrow_signed(et, raw):
            # MLIR writes an `i4` element's low 4 bits in its byte (-1 is 0x0F, not 0xFF)
            unsigned = np.ascontiguousarray(raw).view(np.dtype(f"u{raw.dtype.itemsize}"))
            data = (unsigned & ((1 << et.width) - 1)).tobytes()
        else:
            data = raw.tobytes()
        return '"0x' + data.hex().upper() + '"'
    values = attr.to_numpy()
    if isinstance(et, FloatType):
        bits = raw.reshape(-1).view(np.dtype(f"u{raw.dtype.itemsize}"))
        digits = hex_digits(et.kind)
        flat = [
            format_float(float(x), et.kind) if math.isfinite(x) else f"0x{int(b):0{digits}X}"
            for x, b in zip(values.reshape(-1).tolist(), bits.tolist())
        ]
    else:
        flat = [_element_text(x, et) for x in values.reshape(-1)]
    return _nest(flat, attr.type.shape)


def _complex_body(attr: DenseElementsAttr, et: ComplexType) -> str:
    """MLIR's spelling: `(re,im)` with no blank, each part printed as an element of its type."""
    raw = attr.raw
    if attr.type.num_elements == 0:
        return ""
    if not attr.is_splat and raw.size > MAX_DECIMAL_ELEMENTS:
        return '"0x' + np.ascontiguousarray(raw).tobytes().hex().upper() + '"'
    part = et.element_type
    re, im = complex_parts(raw.reshape(-1))
    texts = [_part_texts(re, part), _part_texts(im, part)]
    flat = [f"({a},{b})" for a, b in zip(*texts)]
    return flat[0] if attr.is_splat else _nest(flat, attr.type.shape)


def _part_texts(values: np.ndarray, t: Type) -> list[str]:
    """Texts of complex parts stored as elements of `t` (one-dimensional)."""
    if isinstance(t, FloatType):
        bits = _bit_view_u(values)
        as_float = values.view(np.uint16).astype(np.uint32) << 16 if t.kind == "bf16" else None
        floats = as_float.view(np.float32).tolist() if as_float is not None else values.astype(np.float64).tolist()
        digits = hex_digits(t.kind)
        return [
            format_float(x, t.kind) if math.isfinite(x) else f"0x{int(b):0{digits}X}"
            for x, b in zip(floats, bits.tolist())
        ]
    if is_wide_int(t):
        return [str(v) for v in wide_int_values(values, t).tolist()]
    return [_element_text(v, t) for v in values.tolist()]


def _bit_view_u(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values).view(np.dtype(f"u{values.dtype.itemsize}"))


def _nest(flat: list[str], shape: tuple[int, ...]) -> str:
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return "[" + ", ".join(flat) + "]"
    step = len(flat) // shape[0] if shape[0] else 0
    return "[" + ", ".join(_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])) + "]"


def parse_dense_array(token: str, type_resolver) -> DenseArrayAttr:
    """`array<i64: 1, 2>` / `array<f32>`."""
    body = token[6:-1]
    head, colon, rest = body.partition(":")
    try:
        et = type_resolver(head.strip())
    except BodySyntaxError as e:
        raise BodySyntaxError(6 + e.offset, e.message) from None
    if not isinstance(et, (IntegerType, FloatType)):
        raise BodySyntaxError(6, f"array element type must be integer or float, got {et}")
    if isinstance(et, IntegerType) and et.width != 1 and et.width % 8:
        # MLIR stores dense arrays as bytes: i1 or a whole number of bytes per element
        raise BodySyntaxError(6, f"dense array element type must be i1 or a multiple of 8 bits wide, got {et}")
    if isinstance(et, FloatType) and et.kind == "tf32":  # 19 bits in MLIR, not a whole number of bytes
        raise BodySyntaxError(6, "element type bitwidth must be a multiple of 8")
    values: list = []
    if colon:
        parts = [p.strip() for p in rest.split(",")]
        if any(p == "" for p in parts):
            raise BodySyntaxError(6 + len(head) + 1, "empty element in array literal")
        try:
            if isinstance(et, FloatType):
                values = [float_from_bits(int(p, 16), et.kind) if p.startswith("0x") else float(p) for p in parts]
            elif et.width == 1:
                for p in parts:
                    if p not in ("true", "false"):
                        raise ValueError(f"expected true or false, got '{p}'")
                values = [p == "true" for p in parts]
            else:
                values = [decimal_int(p) for p in parts]
        except ValueError as e:
            raise BodySyntaxError(6 + len(head) + 1, f"malformed array element: {e}") from None
    try:
        return DenseArrayAttr(et, values)
    except ValueError as e:
        raise BodySyntaxError(6, str(e)) from None


def dense_array_text(attr: DenseArrayAttr) -> str:
    et = attr.element_type
    if not attr.value:
        return f"array<{et._text}>"
    return f"array<{et._text}: " + ", ".join(_element_text(v, et) for v in attr.value) + ">"
