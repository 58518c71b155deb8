!qi8 = !quant.uniform<i8:f32, 2.350000e-02>
!act = tensor<1x16x!qi8>
!fn = (i32) -> (i32, f32)
#scales = dense<[1.0, 2.0]> : tensor<2xf32>
#cfg = {stride = [1, 1], pad = #scales}
"test.op"() {a = #cfg, t = !act, f = !fn, s = #scales} : () -> ()
%0 = "test.src"() : () -> !act
"test.use"(%0) ({
^bb0(%arg0: !fn):
  "test.end"() : () -> ()
}) : (!act) -> ()
