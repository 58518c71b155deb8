module {
  "test.dense"() {bf16_full = dense<[1.0, -2.5, 3.0e+38, 9.0e-41]> : tensor<4xbf16>, bool_full = dense<[true, false, true]> : tensor<3xi1>, bool_splat = dense<false> : tensor<2x2xi1>, empty = dense<> : tensor<0x3xf32>, f16_specials = dense<[0x7C00, 0xFC00, 0x7E00, -0.0, 6.0e-08, 6.55e+04]> : tensor<6xf16>, f64_exact = dense<[0.1, 0.30000000000000004, 1.0e-300]> : tensor<3xf64>, index_vals = dense<[-1, 9223372036854775807]> : tensor<2xindex>, int_nested = dense<[[1, 2, 3], [4, 5, 6]]> : tensor<2x3xi32>, scalar = dense<7> : tensor<i64>, splat_float = dense<0.5> : tensor<2x3xf32>, unsigned = dense<[0, 255]> : tensor<2xui8>, vector_full = dense<[[1.5, 2.5], [3.5, 4.5]]> : vector<2x2xf32>} : () -> ()
  "test.dense_hex"() {large = dense<"0x000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F40"> : tensor<65xi8>} : () -> ()
  "test.dense_arrays"() {bools = array<i1: true, false>, empty = array<f32>, floats = array<f64: 1.5, -0.0, 0x7FF0000000000000>, ints = array<i64: 1, -2, 3>} : () -> ()
  %cst = arith.constant dense<[1, 2, 3, 4]> : tensor<4xi32>
  %cst_0 = arith.constant dense<-1.0> : tensor<8xf16>
}
