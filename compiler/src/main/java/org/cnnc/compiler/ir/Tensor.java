// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.ir;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * A parameter or buffer tensor. {@code path} follows PyTorch's {@code state_dict} naming for the
 * same module structure, e.g. {@code inception3a.branch2.1.conv.0.weight}.
 */
public record Tensor(String path, int[] dims) {
  public Tensor {
    dims = dims.clone();
  }

  @Override
  public int[] dims() {
    return dims.clone();
  }

  public long numel() {
    long n = 1;
    for (int d : dims) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Tensor t && t.path.equals(path) && Arrays.equals(t.dims, dims);
  }

  @Override
  public int hashCode() {
    return path.hashCode() * 31 + Arrays.hashCode(dims);
  }

  @Override
  public String toString() {
    return path + Arrays.stream(dims).mapToObj(Integer::toString).collect(Collectors.joining(", ", " [", "]"));
  }
}
