// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.ir;

import org.cnnc.compiler.source.Span;

/** A named output of a network, with the loss it is trained with and that loss's weight. */
public record Output(String name, int node, String loss, double weight, Span span) {}
