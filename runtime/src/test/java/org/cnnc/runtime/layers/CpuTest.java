// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CPU's vendor, read from cpuinfo, which picks the products' library ({@link Gemm}). */
class CpuTest {
  @Test
  void firstVendorLineOfCpuinfo() {
    String amd = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\n\nprocessor\t: 1\nvendor_id\t: Other\n";
    assertEquals("AuthenticAMD", Cpu.vendorOf(amd));
    assertEquals("GenuineIntel", Cpu.vendorOf("vendor_id : GenuineIntel\r\nflags : avx512f\n"));
    // a key that only starts with vendor_id, and a file without one
    assertEquals("", Cpu.vendorOf("vendor_idx : Fake\nmodel name : x\n"));
    assertEquals("", Cpu.vendorOf(""));
  }

  @Test
  void unreadableOrMissingFileIsUnknown(@TempDir Path dir) throws Exception {
    assertEquals("", Cpu.readVendor(dir.resolve("missing")));
    assertEquals("", Cpu.readVendor(dir)); // a directory
    Path f = dir.resolve("cpuinfo");
    Files.writeString(f, "processor : 0\nvendor_id : HygonGenuine\n");
    assertEquals("HygonGenuine", Cpu.readVendor(f));
  }

  /** This machine's own answer agrees with its cpuinfo, and decides MKL's use. */
  @Test
  void thisMachine() throws Exception {
    Path cpuinfo = Path.of("/proc/cpuinfo");
    String expected = Files.isReadable(cpuinfo) ? Cpu.vendorOf(new String(Files.readAllBytes(cpuinfo))) : "";
    assertEquals(expected, Cpu.vendor());
    assertEquals(expected.isEmpty() || expected.equals("GenuineIntel"), Cpu.intel());
    if (expected.equals("AuthenticAMD")) {
      assertFalse(Cpu.intel());
    } else if (expected.equals("GenuineIntel")) {
      assertTrue(Cpu.intel());
    }
  }
}
