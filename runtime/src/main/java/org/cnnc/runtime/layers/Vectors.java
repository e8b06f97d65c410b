// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

/**
 * Whether cnnc's kernels may use the JDK's Vector API ({@code jdk.incubator.vector}), which the
 * JVM has only when started with {@code --add-modules jdk.incubator.vector}. Without it (or with
 * {@code -Dcnnc.vector=off}, or {@link KernelSettings#vectors()} off) the kernels run their scalar Java loops, with the same results.
 * No class of the API is touched unless {@link #on()}: the classes that use it ({@code
 * VectorPool}) are loaded only then.
 */
public final class Vectors {
  private Vectors() {}

  private static final boolean PRESENT = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

  /** The JVM has the Vector API. */
  public static boolean present() {
    return PRESENT;
  }

  /** The kernels use the Vector API: the JVM has it, and {@link KernelSettings#current()} allows it. */
  public static boolean on() {
    return PRESENT && KernelSettings.current().vectors();
  }
}
