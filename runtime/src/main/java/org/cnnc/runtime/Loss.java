// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT;
import org.nd4j.linalg.lossfunctions.impl.LossL1;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.linalg.lossfunctions.impl.LossMSE;

/**
 * The losses an output can be trained with, as PyTorch defines them on the output tensor:
 * {@code CROSS_ENTROPY} is {@code nn.CrossEntropyLoss} (log-softmax then NLL, on the output as
 * logits), {@code BCE_LOGITS} is {@code nn.BCEWithLogitsLoss}, {@code BCE} is {@code nn.BCELoss}.
 */
public enum Loss {
  CROSS_ENTROPY(Activation.SOFTMAX),
  MSE(Activation.IDENTITY),
  L1(Activation.IDENTITY),
  BCE(Activation.IDENTITY),
  BCE_LOGITS(Activation.SIGMOID),
  NLL(Activation.IDENTITY),
  /** Inference only: the output takes no part in training. */
  NONE(Activation.IDENTITY);

  private final Activation activation;

  Loss(Activation activation) {
    this.activation = activation;
  }

  /** The activation DL4J's loss layer applies before the loss function. */
  public Activation activation() {
    return activation;
  }

  ILossFunction function() {
    return switch (this) {
      case CROSS_ENTROPY -> new LossMCXENT();
      case MSE -> new LossMSE();
      case L1 -> new LossL1();
      case BCE, BCE_LOGITS -> new LossBinaryXENT();
      case NLL -> new NllLoss();
      case NONE -> null;
    };
  }
}
