// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The shape of one example, without the batch dimension: {@code [C, H, W]} for feature maps
 * (NCHW, as PyTorch), {@code [F]} for vectors, and {@code [H, W, C]} for a channels-last map
 * (PyTorch's {@code x.permute(0, 2, 3, 1)}, as ConvNeXt's blocks make for their
 * {@code LayerNorm} and {@code Linear}s): its dims are printed as PyTorch's, and it is not a
 * {@link #isMap() map}, so ops that need {@code [C, H, W]} refuse it.
 */
public final class Shape {
  private final int[] dims;
  private final boolean channelsLast;

  private Shape(int[] dims, boolean channelsLast) {
    this.dims = dims;
    this.channelsLast = channelsLast;
  }

  public static Shape of(int... dims) {
    return new Shape(dims.clone(), false);
  }

  /** A channels-last map {@code [H, W, C]}. */
  public static Shape channelsLast(int h, int w, int c) {
    return new Shape(new int[] {h, w, c}, true);
  }

  /** The same layout with other dims: the last dim of a channels-last map stays its channels. */
  public Shape withDims(int... newDims) {
    return new Shape(newDims.clone(), channelsLast && newDims.length == 3);
  }

  /** Whether this is a channels-last map {@code [H, W, C]}. */
  public boolean isChannelsLast() {
    return channelsLast;
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

  /** A channels-first map {@code [C, H, W]}. */
  public boolean isMap() {
    return dims.length == 3 && !channelsLast;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Shape s && Arrays.equals(dims, s.dims) && channelsLast == s.channelsLast;
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(dims) * 31 + (channelsLast ? 1 : 0);
  }

  /** How a message names it: {@code [56, 56, 96] (channels last)} for a channels-last map. */
  public String describe() {
    return channelsLast ? this + " (channels last)" : toString();
  }

  @Override
  public String toString() {
    return Arrays.stream(dims).mapToObj(Integer::toString).collect(Collectors.joining(", ", "[", "]"));
  }
}
