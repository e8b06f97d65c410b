// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import java.io.PrintWriter;
import org.cnnc.cli.Main;

/** {@code cnnc} with every command: those of the compiler, and run, train and bench on ND4J. */
public final class Cnnc {
  private Cnnc() {}

  public static void main(String[] args) {
    System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
  }

  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    return Main.run(args, out, err, new RunCommand(), new TrainCommand(), new BenchCommand());
  }
}
