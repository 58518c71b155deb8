"builtin.module"() ({
  %0 = "test.source"() : () -> i32
  %1:3 = "test.multi"(%0) <{count = 3 : i64}> : (i32) -> (i32, f32, tensor<2xi8>)
  "test.use"(%1#0, %1#2, %0) : (i32, tensor<2xi8>, i32) -> ()
  %2 = "test.graph_user"(%3) : (i64) -> i64
  %3 = "test.late_def"() : () -> i64
  "test.cfg"() ({
    "test.br"()[^bb1] : () -> ()
  ^bb1:
    %5 = "test.value"() : () -> i1
    "test.cond_br"(%5)[^bb2, ^bb3] {weights = array<i32: 1, 3>} : (i1) -> ()
  ^bb2(%6: i32, %7: f32):
    "test.ret"(%6, %1#1) : (i32, f32) -> ()
  ^bb3:
    "test.ret"() : () -> ()
  }, {
  }, {
  ^bb0:
  }) {"quoted key" = "v", unit_attr} : () -> ()
  %4 = "test.nested"(%0) ({
  ^bb0(%arg0: i32, %arg1: () -> (i32, i32)):
    %5 = "test.inner"(%arg0, %0) ({
      %6 = "test.innermost"(%arg0) : (i32) -> index
      "test.yield"(%6) : (index) -> ()
    }) : (i32, i32) -> i32
    "test.yield"(%5) : (i32) -> ()
  }) : (i32) -> i32
  "test.props_and_attrs"() <{a = [1, 2.5, "s", @sym, @outer::@inner], b = {nested = {deep = true}}}> {c = -7 : si8, d = 0 : ui4, e = 5 : index, f = -0.0 : f16, g = 0x7FC00000 : f32} : () -> ()
  "weird op name \\ \22 \09"() : () -> ()
}) : () -> ()
