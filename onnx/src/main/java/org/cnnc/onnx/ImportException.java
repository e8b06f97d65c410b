// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

/**
 * An ONNX model cnnc cannot import: not ONNX, malformed, beyond a limit, or using an op or
 * attribute cnnc lacks. The message names the node and its op; every name read from the file in
 * it is escaped for a terminal.
 */
public final class ImportException extends Exception {
  private static final long serialVersionUID = 1L;

  public ImportException(String message) {
    super(message);
  }
}
