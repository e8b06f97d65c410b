// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

/** The family of an op, as pictures colour it and the reference groups it. */
public enum Category {
  INPUT, CONV, POOL, NORM, ACTIVATION, DENSE, MERGE, SHAPE, OTHER
}
