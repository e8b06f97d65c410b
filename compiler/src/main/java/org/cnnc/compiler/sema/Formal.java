// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

/**
 * A parameter as argument binding sees it, for ops and blocks alike.
 *
 * @param defaultText how the default reads in a signature, or null when required
 */
public record Formal(String name, Type type, boolean required, String defaultText) {}
