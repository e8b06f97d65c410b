// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The shape of one example, without the batch dimension: {@code [C, H, W]} for feature maps
 * (NCHW, as PyTorch), {@code [F]} for vectors.
 */
public final class Shape {
  private final int[] dims;

  private Shape(int[] dims) {
    this.dims = dims;
  }

  public static Shape of(int... dims) {
    return new Shape(dims.clone());
  }

  public int rank() {
    return dims.length;
  }

  public int dim(int i) {
    return dims[i];
  }

  public int[] dims() {
    return dims.clone();
  }

  public int channels() {
    return dims[0];
  }

  public int height() {
    return dims[1];
  }

  public int width() {
    return dims[2];
  }

  /** Elements of one example; exact (throws ArithmeticException past 2^63). */
  public long numel() {
    long n = 1;
    for (int d : dims) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  public boolean isMap() {
    return dims.length == 3;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Shape s && Arrays.equals(dims, s.dims);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(dims);
  }

  @Override
  public String toString() {
    return Arrays.stream(dims).mapToObj(Integer::toString).collect(Collectors.joining(", ", "[", "]"));
  }
}
