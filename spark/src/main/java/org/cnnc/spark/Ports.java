// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import org.nd4j.parameterserver.distributed.v2.transport.PortSupplier;

/**
 * The UDP ports of gradient sharing's transport: the driver's is fixed (the executors are told it);
 * each executor takes a free one of its own, so that several executors on one host do not collide
 * on a single port (DL4J's {@code StaticPortSupplier} gives every node the same). DL4J asks the
 * supplier on the driver for the controller's port, then on each executor, after deserializing it,
 * for that executor's.
 */
final class Ports implements PortSupplier {
  private static final long serialVersionUID = 1L;
  /** Set in the driver's JVM before training: there, the fixed port is answered. */
  static volatile boolean inDriver;
  /** This executor JVM's port, chosen once. */
  private static int executorPort;

  private final int driverPort;

  Ports(int driverPort) {
    this.driverPort = driverPort;
  }

  @Override
  public int getPort() {
    if (inDriver) {
      return driverPort;
    }
    synchronized (Ports.class) {
      if (executorPort == 0) {
        try (DatagramSocket s = new DatagramSocket(0)) {
          executorPort = s.getLocalPort();
        } catch (IOException e) {
          throw new UncheckedIOException("no free UDP port for gradient sharing", e);
        }
      }
      return executorPort;
    }
  }
}
