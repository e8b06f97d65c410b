// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * A channel concatenation in oneDNN's layout ({@link ConvLayout#concatenate}): NHWC and channel
 * blocks of 8 and 16, its inputs in the output's layout (copied by pixel rows or by image and
 * block range), in NCHW (reordered in), and NCHW views with strides (a channel subset of a wider
 * activation). Converted back to NCHW, the output is the NCHW concatenation, bit for bit (a copy),
 * NaN, infinities and -0.0 included.
 */
class ConcatLayoutTest {
  @ParameterizedTest(name = "layout {0} batch {1} {2}x{3}")
  @CsvSource({"1, 3, 7, 5", "1, 1, 14, 14", "16, 2, 7, 7", "16, 1, 3, 4", "8, 3, 5, 6", "8, 1, 1, 1"})
  void concatenatesEveryInputLayoutIntoItsChannels(int layout, int batch, int h, int w) {
    assertTrue(ConvLayout.preferred() != ConvLayout.NCHW, "the tests run with oneDNN's binding");
    long[] channels = layout == ConvLayout.NHWC ? new long[] {5, 16, 3, 40} : new long[] {16, 32, 16, 48};
    Random r = new Random(layout * 100L + batch * 10L + h);
    INDArray[] nchw = new INDArray[channels.length];
    INDArray[] xs = new INDArray[channels.length];
    long[][] shapes = new long[channels.length][];
    int[] layouts = new int[channels.length];
    for (int j = 0; j < channels.length; j++) {
      shapes[j] = new long[] {batch, channels[j], h, w};
      nchw[j] = values(r, shapes[j]);
      // inputs 0 and 2 in the layout, 1 NCHW, 3 an NCHW view of a wider activation
      if (j % 2 == 0) {
        layouts[j] = layout;
        xs[j] = Nd4j.create(DataType.FLOAT, ConvLayout.rows(shapes[j], layout));
        ConvLayout.reorder(nchw[j], ConvLayout.NCHW, xs[j], layout, shapes[j]);
      } else if (j == 1) {
        layouts[j] = ConvLayout.NCHW;
        xs[j] = nchw[j];
      } else {
        layouts[j] = ConvLayout.NCHW;
        INDArray wider = values(r, new long[] {batch, channels[j] + 7, h, w});
        xs[j] = wider.get(NDArrayIndex.all(), NDArrayIndex.interval(3, 3 + channels[j]), NDArrayIndex.all(),
            NDArrayIndex.all());
        nchw[j] = xs[j].dup('c');
        assertFalse(batch > 1 && ChannelKernels.direct(xs[j]), "a strided view");
      }
    }
    long c = java.util.Arrays.stream(channels).sum();
    long[] outShape = {batch, c, h, w};
    assertTrue(ConvLayout.concatenates(channels, layout));
    INDArray out = Nd4j.create(DataType.FLOAT, ConvLayout.rows(outShape, layout));
    ConvLayout.concatenate(xs, shapes, layouts, out, outShape, layout);
    INDArray back = Nd4j.create(DataType.FLOAT, outShape);
    ConvLayout.reorder(out, layout, back, ConvLayout.NCHW, outShape);
    INDArray expected = Nd4j.concat(1, nchw);
    assertArrayEquals(bits(expected), bits(back));
  }

  @Test
  void blockedLayoutsConcatenateWholeBlocksOnly() {
    assertTrue(ConvLayout.concatenates(new long[] {5, 3}, ConvLayout.NHWC));
    assertTrue(ConvLayout.concatenates(new long[] {16, 48}, 16));
    assertFalse(ConvLayout.concatenates(new long[] {16, 40}, 16), "40 fills no whole block of 16");
    assertFalse(ConvLayout.concatenates(new long[] {12, 16}, 8), "an input would start inside a block");
    assertTrue(ConvLayout.concatenates(new long[] {24, 40}, 8));
    assertFalse(ConvLayout.concatenates(new long[] {16, 16}, ConvLayout.NCHW));
  }

  private static INDArray values(Random r, long[] shape) {
    float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f};
    int n = (int) (shape[0] * shape[1] * shape[2] * shape[3]);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = r.nextInt(10) == 0 ? special[r.nextInt(special.length)] : (float) r.nextGaussian();
    }
    return Nd4j.create(v, shape);
  }

  private static int[] bits(INDArray a) {
    float[] f = a.dup('c').data().asFloat();
    int[] b = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      b[i] = Float.floatToRawIntBits(f[i]);
    }
    return b;
  }
}
