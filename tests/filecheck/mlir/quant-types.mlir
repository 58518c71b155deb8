// RUN: irq-opt %s --split-input-file --allow-unregistered-dialect | filecheck %s
// RUN: irq-opt %s --split-input-file --allow-unregistered-dialect | irq-opt --split-input-file --allow-unregistered-dialect | filecheck %s
//
// Every quant type MLIR has, parsed and printed back (twice: the second run reads the first's
// output). Written for irq after mlir/test/Dialect/Quant/parse-uniform.mlir, parse-any.mlir,
// parse-calibrated.mlir, quantile-types.mlir and ops.mlir. Scales print as the shortest
// decimal that reads back to the same double (mlir-opt prints %e with 7 digits).

// CHECK: "t.a"() : () -> !quant.uniform<i8<-8:7>:f32, 0.99872:127>
"t.a"() : () -> !quant.uniform<i8<-8:7>:f32, 0.99872:127  >

// -----
// Spellings of the storage type survive: ui8 and si8 are not rewritten to u8 / i8.
// CHECK: !quant.uniform<ui8:f32, 1.0>, !quant.uniform<si8:f16, 0.5>, !quant.uniform<u16:bf16, 200.0>
"t.a"() : () -> (!quant.uniform<ui8:f32, 1.0>, !quant.uniform<si8:f16, 0.5>, !quant.uniform<u16:bf16, 2.0e+2>)

// -----
// A hex scale is the double's bit pattern.
// CHECK: !quant.uniform<u8:f32, 10704349.0:128>
"t.a"() : () -> !quant.uniform<u8:f32, 0x41646ABBA0000000:128>

// -----
// Per axis, mixed affine and symmetric channels.
// CHECK: !quant.uniform<i8:f32:1, {200.0,0.99872:120}>
"t.a"() : () -> !quant.uniform<i8:f32:1, {2.0e+2,0.99872:120}>

// -----
// Sub-channel: block sizes per axis, then one scale[:zp] per block as a nested list.
// CHECK: !quant.uniform<u8:f32:{0:1, 1:2}, {{[{][{]}}2.0:120, 3.0:127}, {4.0, 5.0}}>
// CHECK: !quant.uniform<u8:f32:{}, {{[{][{]}}2.0:120, 3.0:127}, {4.0, 5.0}}>
"t.a"() : () -> !quant.uniform<u8:f32:{0:1, 1:2}, {{2.0:120,3.0:127}, {4.0,5.0}}>
"t.b"() : () -> !quant.uniform<u8:f32:{}, {{2.0:120,3.0:127}, {4.0,5.0}}>

// -----
// Float storage types; their default range (the largest finite value) is not printed.
// CHECK: !quant.uniform<f8E5M2:f32, 0.99872:127>, !quant.uniform<f8E4M3FN:f32, 200.0>, !quant.uniform<f4E2M1FN<-4:4>:f32, 1.0>
"t.a"() : () -> (!quant.uniform<f8E5M2<-57344:57344>:f32, 0.99872:127>, !quant.uniform<f8E4M3FN:f32, 2.0e+2>, !quant.uniform<f4E2M1FN<-4:4>:f32, 1.0>)

// -----
// CHECK: !quant.any<i8<-8:7>:f32>, !quant.any<u8>
"t.a"() : () -> (!quant.any<i8<-8:7>:f32>, !quant.any<u8>)

// -----
// CHECK: !quant.calibrated<f32<-0.998:1.232>>
"t.a"() : () -> !quant.calibrated<f32<-0.998:1.232>>

// -----
// CHECK: !quant.quantile<si8:f32, {-1.0,-0.5,0.0,0.5,1.0}, <-2:2>>
// CHECK: !quant.quantile<ui1:f16, {-1.0,1.0}>
"t.a"() : () -> !quant.quantile<si8:f32, {-1.0,-0.5,0.0,0.5,1.0}, <-2:2>>
"t.b"() : () -> !quant.quantile<ui1:f16, {
  -1.0,
  1.0}>

// -----
// The three ops in their custom forms.
// CHECK-LABEL: func.func @casts
// CHECK: %0 = quant.qcast %x : tensor<2x3xf32> to tensor<2x3x!quant.uniform<i8:f32:1, {1.0,2.0,3.0}>>
// CHECK: %1 = quant.scast %0 : tensor<2x3x!quant.uniform<i8:f32:1, {1.0,2.0,3.0}>> to tensor<2x3xi8>
// CHECK: %2 = quant.scast %1 : tensor<2x3xi8> to tensor<2x3x!quant.uniform<i8:f32:1, {1.0,2.0,3.0}>>
// CHECK: %3 = quant.dcast %2 : tensor<2x3x!quant.uniform<i8:f32:1, {1.0,2.0,3.0}>> to tensor<2x3xf32>
!q = !quant.uniform<i8:f32:1, {1.0,2.0,3.0}>
func.func @casts(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = quant.qcast %x : tensor<2x3xf32> to tensor<2x3x!q>
  %1 = quant.scast %0 : tensor<2x3x!q> to tensor<2x3xi8>
  %2 = quant.scast %1 : tensor<2x3xi8> to tensor<2x3x!q>
  %3 = quant.dcast %2 : tensor<2x3x!q> to tensor<2x3xf32>
  return %3 : tensor<2x3xf32>
}
