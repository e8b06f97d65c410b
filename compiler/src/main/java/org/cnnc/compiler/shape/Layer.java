// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

import java.util.List;

/**
 * What an op rule infers for one application: the output shape, the parameter and buffer tensors
 * (named by suffix: {@code weight}, {@code bias}, {@code running_mean}, ...) and the MACs.
 */
public record Layer(Shape out, List<TensorSpec> params, List<TensorSpec> buffers, long macs) {

  public record TensorSpec(String suffix, int... dims) {
    /** The tensor's state_dict key under module {@code path}: {@code path.suffix}, or the path itself for suffix "" (scale's). */
    public String keyUnder(String path) {
      return suffix.isEmpty() ? path : path + "." + suffix;
    }
  }

  public static Layer of(Shape out) {
    return new Layer(out, List.of(), List.of(), 0);
  }
}
