// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import org.junit.jupiter.api.Test;

/** The kernels' switches are one value: read from the properties, swapped whole, serializable. */
class KernelSettingsTest {
  @Test
  void propertiesTurnSwitchesOff() {
    String[] keys = {"cnnc.blas", "cnnc.conv.onednn", "cnnc.conv.perSample", "cnnc.vector"};
    String[] saved = new String[keys.length];
    for (int i = 0; i < keys.length; i++) {
      saved[i] = System.getProperty(keys[i]);
    }
    try {
      System.setProperty("cnnc.blas", " OpenBLAS ");
      System.setProperty("cnnc.conv.onednn", "OFF");
      System.setProperty("cnnc.conv.perSample", "true");
      System.setProperty("cnnc.vector", "off");
      KernelSettings s = KernelSettings.fromSystemProperties();
      assertEquals("openblas", s.blas());
      assertFalse(s.oneDnn());
      assertFalse(s.batched());
      assertFalse(s.vectors());
      assertEquals(KernelSettings.DEFAULTS.tileColumns(), s.tileColumns());
      for (String k : keys) {
        System.clearProperty(k);
      }
      assertEquals(KernelSettings.DEFAULTS, KernelSettings.fromSystemProperties());
    } finally {
      for (int i = 0; i < keys.length; i++) {
        if (saved[i] == null) {
          System.clearProperty(keys[i]);
        } else {
          System.setProperty(keys[i], saved[i]);
        }
      }
    }
  }

  @Test
  void swappedWholeAndPutBack() {
    KernelSettings before = KernelSettings.current();
    try {
      KernelSettings scalar = before.withVectors(false).withOneDnn(false);
      assertSame(before, KernelSettings.use(scalar));
      assertFalse(Vectors.on());
      assertFalse(OneDnn.enabled());
      assertEquals(Gemm.Library.ND4J, Gemm.use("openblas"));
      assertEquals(Gemm.Library.ND4J, Gemm.library());
      assertEquals("openblas", KernelSettings.current().blas());
      // an unknown library is refused, and the settings stay as they were
      assertThrows(IllegalArgumentException.class, () -> Gemm.use("atlas"));
      assertEquals("openblas", KernelSettings.current().blas());
    } finally {
      KernelSettings.use(before);
    }
    assertEquals(before, KernelSettings.current());
  }

  @Test
  void serializes() throws Exception {
    KernelSettings s = KernelSettings.DEFAULTS.withBlas("mkl").withLayout(false, 7, 1234).withDirectRow(3);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(s);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      Object back = in.readObject();
      assertEquals(s, back);
      assertTrue(back instanceof KernelSettings);
    }
  }
}
