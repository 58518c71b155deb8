module {
  "test.types"() {a = i1, b = si8, c = ui64, d = i1000, e = f16, f = bf16, g = f32, h = f64, i = tf32, j = f8E4M3FN, k = index, l = none, m = tensor<1x?x3xf32>, n = tensor<*xi8>, o = tensor<f64>, p = tensor<0xi32>, q = vector<4x8xf16>, r = tuple<i32, tuple<>, (i1) -> ()>, s = complex<f32>, t = (i32, f32) -> (), u = () -> (() -> i1), v = !foo.bar, w = !foo.bar<"x", [1, 2], <nested -> {a}>>, x = !foo<"opaque body">, y = tensor<4xf32, #foo.encoding<1>>} : () -> ()
  "test.attrs"() {bool = true, empty_array = [], empty_dict = {}, float = 1.5 : f32, "has space", huge = 1.7976931348623157e+308 : f64, int = -5 : i32, nested = [[1, [2]], {k = [true]}], opaque = #foo.attr<[1, 2] -> "x">, plain_opaque = #foo.flag, sym = @a::@"b c"::@d, text = "tab\09 quote\22 backslash\\ newline\0A nul\00 bytes\FF\FE unicode é∑😀", tiny = 5.0e-324 : f64, typed_array = [1 : i8, 2.0 : f32, 3, 4.0], unit_value} : () -> ()
  %0:2 = "test.two"() : () -> (i32, i32)
  %1 = "test.hinted"(%0#1, %0#0) : (i32, i32) -> (() -> ())
}
