// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The CPU's vendor, which decides the library of the convolutions' products ({@link Gemm}): MKL
 * chooses its code path by vendor, and on AMD runs far below OpenBLAS.
 */
public final class Cpu {
  private Cpu() {}

  /** At most this much of {@code /proc/cpuinfo} is read: the first processor's lines come first. */
  private static final int READ_LIMIT = 64 * 1024;

  private static final String VENDOR = readVendor(Path.of("/proc/cpuinfo"));

  /** The vendor string the CPU reports ({@code GenuineIntel}, {@code AuthenticAMD}), or "" when unknown. */
  public static String vendor() {
    return VENDOR;
  }

  /** An Intel CPU, or one whose vendor is unknown (MKL stays the choice there, as it always was). */
  public static boolean intel() {
    return VENDOR.isEmpty() || VENDOR.equals("GenuineIntel");
  }

  /** The first {@code vendor_id} of a cpuinfo file, or "" when there is none (not Linux, not x86, unreadable). */
  static String readVendor(Path cpuinfo) {
    try (InputStream in = Files.newInputStream(cpuinfo)) {
      return vendorOf(new String(in.readNBytes(READ_LIMIT), StandardCharsets.ISO_8859_1));
    } catch (IOException | SecurityException e) {
      return "";
    }
  }

  /** The value of the first {@code vendor_id : ...} line of {@code text}, or "". */
  static String vendorOf(String text) {
    for (String line : text.split("\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().equals("vendor_id")) {
        return line.substring(colon + 1).trim();
      }
    }
    return "";
  }
}
