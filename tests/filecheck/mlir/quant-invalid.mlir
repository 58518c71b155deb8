// RUN: irq-opt %s --split-input-file --verify-diagnostics --allow-unregistered-dialect
//
// Quant types and ops MLIR rejects, by the same rule and on the annotated line. Written for
// irq after mlir/test/Dialect/Quant/parse-uniform-invalid.mlir, parse-any-invalid.mlir,
// parse-calibrated-invalid.mlir, invalid-quantile-types.mlir and invalid.mlir.

// expected-error@+1 {{unknown type 'foobar' in dialect 'quant'}}
!qalias = !quant.foobar

// -----
// expected-error@+1 {{illegal storage type prefix}}
!qalias = !quant.uniform<int8<-4:3>:f32, 0.99872:127>

// -----
// expected-error@+1 {{illegal storage type size: 33}}
!qalias = !quant.uniform<i33:f32, 0.99872:127>

// -----
// expected-error@+1 {{illegal storage min and storage max: (2:1)}}
!qalias = !quant.uniform<i8<2:1>:f32, 0.99872:127>

// -----
// expected-error@+1 {{illegal storage min and storage max: (1:1)}}
!qalias = !quant.any<i8<1:1>:f32>

// -----
// expected-error@+1 {{illegal storage type maximum: 9}}
!qalias = !quant.uniform<i4<-1:9>:f32, 0.99872:127>

// -----
// expected-error@+1 {{illegal storage type minimum: -9}}
!qalias = !quant.any<i4<-9:1>:f32>

// -----
// expected-error@+1 {{expected ':'}}
!qalias = !quant.uniform<i8<16>:f32, 0.99872:127>

// -----
// expected-error@+1 {{expected ','}}
!qalias = !quant.uniform<i8<-4:3>:f32 0.99872:127>

// -----
// expected-error@+1 {{scale out of expressed type range}}
!qalias = !quant.uniform<i8<-4:3>:f32, -1.0:127>

// -----
// expected-error@+1 {{scale out of expressed type range}}
!qalias = !quant.uniform<i8:f16, 5.8e-8>

// -----
// expected-error@+1 {{scale out of expressed type range}}
!qalias = !quant.uniform<i8:f16:1, {2.0,6.6e4}>

// -----
// expected-error@+1 {{illegal quantized dimension: -1}}
!qalias = !quant.uniform<i8:f32:-1, {2.0,3.0:1}>

// -----
// expected-error@+1 {{expected a floating point number}}
!qalias = !quant.uniform<i8<-4:3>:f32, {2.0e+02,-19.987200e-01:1}>

// -----
// expected-error@+1 {{expressed type must be a float type}}
!qalias = !quant.uniform<i8:i32, 1.0>

// -----
// expected-error@+1 {{expecting float expressed type}}
!qalias = !quant.calibrated<i8<-4:3>>

// -----
// expected-error@+1 {{illegal min and max: (1.0:-1.0)}}
!qalias = !quant.calibrated<f32<1.0:-1.0>>

// -----
// expected-error@+1 {{quantile values must not be empty}}
func.func private @empty_quantiles() -> !quant.quantile<ui4:f16, {}>

// -----
// expected-error@+1 {{quantile LUT size (3) must equal the number of representable storage values (16)}}
func.func private @wrong_lut_size() -> !quant.quantile<ui4:f16, {-1.0,0.0,1.0}>

// -----
// expected-error@+1 {{quantile type must be a float or integer type}}
func.func private @bad_quantile_type() -> !quant.quantile<ui1:tensor<1xf32>, {1.0, 0.0}>

// -----

func.func @dcast_invalid_input(%arg0: f32) {
  // expected-error@+1 {{operand 'input' must be scalar or tensor of quantized type}}
  %0 = quant.dcast %arg0 : f32 to f32
  return
}

// -----

!qalias = !quant.uniform<i8:f32, 1.0>
func.func @dcast_invalid_result(%arg0: !qalias) {
  // expected-error@+1 {{result 'result' must be scalar or tensor of floating-point}}
  %0 = quant.dcast %arg0 : !qalias to !qalias
  return
}

// -----

!qalias = !quant.uniform<i8:f32, 1.0>
func.func @dcast_mismatch_scalar_tensor(%arg0: !qalias) {
  // expected-error@+1 {{input and result are both scalars or both tensors with matching shape}}
  %0 = quant.dcast %arg0 : !qalias to tensor<f32>
  return
}

// -----

!qalias = !quant.uniform<i8:f32, 1.0>
func.func @dcast_mismatch_ranked_unranked_tensor(%arg0: tensor<!qalias>) {
  // expected-error@+1 {{input and result are both scalars or both tensors with matching shape}}
  %0 = quant.dcast %arg0 : tensor<!qalias> to tensor<*xf32>
  return
}

// -----

!qalias = !quant.uniform<i8:f32, 1.0>
func.func @qcast_mismatch_static_dynamic_tensor(%arg0: tensor<2x3xf32>) {
  // expected-error@+1 {{input and result are both scalars or both tensors with matching shape}}
  %0 = quant.qcast %arg0 : tensor<2x3xf32> to tensor<?x3x!qalias>
  return
}

// -----

!qalias = !quant.uniform<i8:f32, 1.0>
func.func @qcast_float_type_mismatch(%arg0: f64) {
  // expected-error@+1 {{expressed type in quantized type expected to match float type}}
  %0 = quant.qcast %arg0 : f64 to !qalias
  return
}

// -----

!qalias = !quant.uniform<i8:f32:2, {1.0, 2.0}>
func.func @dcast_per_axis_scalar(%arg0: !qalias) {
  // expected-error@+1 {{scalar types may not use per-axis quantization}}
  %0 = quant.dcast %arg0 : !qalias to f32
  return
}

// -----

!qalias = !quant.uniform<i8:f32:2, {1.0, 2.0}>
func.func @qcast_per_axis_invalid_rank(%arg0: tensor<2x3xf32>) {
  // expected-error@+1 {{quantized dimension must be less than tensor rank}}
  %0 = quant.qcast %arg0 : tensor<2x3xf32> to tensor<2x3x!qalias>
  return
}

// -----

!qalias = !quant.uniform<i8:f32:2, {1.0, 2.0, 3.0}>
func.func @qcast_per_axis_scale_count(%arg0: tensor<2x3x4xf32>) {
  // expected-error@+1 {{quantized dimension size does not match number of scales}}
  %0 = quant.qcast %arg0 : tensor<2x3x4xf32> to tensor<2x3x4x!qalias>
  return
}

// -----

!qalias = !quant.uniform<i8:f32, 1.0>
func.func @scast_storage_mismatch(%arg0: tensor<2x!qalias>) {
  // expected-error@+1 {{storage type in quantized type expected to match integer type}}
  %0 = quant.scast %arg0 : tensor<2x!qalias> to tensor<2xi16>
  return
}

// -----

func.func @scast_no_quantized(%arg0: tensor<2xi8>) {
  // expected-error@+1 {{input or result must be quantized}}
  %0 = quant.scast %arg0 : tensor<2xi8> to tensor<2xi8>
  return
}
