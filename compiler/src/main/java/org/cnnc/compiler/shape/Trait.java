// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

/**
 * What passes, lint rules, pictures and the runtime may assume of an op, declared once in its
 * {@link OpDef} (as MLIR's op traits). A pass asks {@code op.has(Trait.X)}, never for an op's name.
 */
public enum Trait {
  /** The output has the input's shape and each element is a function of the same input element. */
  ELEMENTWISE,
  /** The values pass unchanged in inference, at most reshaped (identity, dropout, flatten). */
  PASSES_VALUES,
  /** A positive input stays positive and a negative one non-positive (pooling, padding, reshapes). */
  KEEPS_SIGN,
  /** Never outputs a negative value (relu, sigmoid, softmax). */
  NON_NEGATIVE,
  /** Outputs probabilities that sum to one over channels (softmax). */
  PROBABILITIES,
  /** A ReLU that the conv, dense or batch norm before it may apply in its own pass (inference fusion). */
  FUSABLE_ACTIVATION,
  /** A clamp to [0, 6] (relu6) that the conv before it may apply in its own pass (inference fusion). */
  FUSABLE_CLAMP,
  /** A SiLU that the conv before it may apply to its output in place (inference fusion). */
  FUSABLE_SILU,
  /** Slides a window over height and width ({@code kernel}, {@code stride}, {@code padding}). */
  WINDOWED,
  /** Holds trainable weights that a batch norm after it may be folded into, in inference. */
  LINEAR,
  /**
   * In inference, a fixed per-channel affine map {@code y = a * x + b} (batch norm with its
   * running statistics): a {@link #LINEAR} op before it may fold it into its weights and bias.
   */
  AFFINE_IN_INFERENCE,
  /** Random in training, the identity in inference (dropout). */
  STOCHASTIC,
  /** Joins several inputs (concat, add). */
  MERGE,
  /**
   * Lays its inputs side by side along channels (concat): an input only it reads can be computed
   * into its slice of the output, with no copy.
   */
  CONCATENATES
}
