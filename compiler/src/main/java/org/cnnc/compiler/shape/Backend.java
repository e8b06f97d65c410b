// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

import java.util.Locale;
import java.util.Optional;

/**
 * Where a checked network can run. Each op of the registry states what a backend cannot run
 * ({@link OpDef#refusal}); {@code check --backend} reports it at the op's place, so that what
 * {@code check} accepts is what {@code run} runs.
 */
public enum Backend {
  /** Deeplearning4j on the CPU with cnnc's kernels (the default of {@code run}, {@code train}, {@code bench}). */
  CPU("cnnc's kernels on Deeplearning4j, CPU"),
  /** Deeplearning4j's own layers, as on CUDA (cuDNN); {@code -Dcnnc.kernels=dl4j} on the CPU. */
  CUDA("Deeplearning4j's own layers (CUDA, cuDNN)"),
  /** An ONNX model ({@code cnnc export}), as ONNX Runtime runs it ({@code run --engine ort}). */
  ONNX("an ONNX model (cnnc export), as ONNX Runtime runs it");

  private final String description;

  Backend(String description) {
    this.description = description;
  }

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  public String description() {
    return description;
  }

  public static Optional<Backend> of(String id) {
    for (Backend b : values()) {
      if (b.id().equals(id)) {
        return Optional.of(b);
      }
    }
    return Optional.empty();
  }
}
