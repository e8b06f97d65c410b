// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The {@code mul} vertex's backward pass against central finite differences in double precision:
 * for {@code L = sum(y * dy)}, each input element's gradient, including the squeeze-and-excitation
 * scale's {@code [N, C, 1, 1]}, whose gradient is the sum over H and W of {@code dy * x}.
 */
class BroadcastMulTest {
  static INDArray randn(long seed, long... shape) {
    Nd4j.getRandom().setSeed(seed);
    return Nd4j.randn(DataType.DOUBLE, shape);
  }

  static double loss(GraphVertex v, INDArray[] in, INDArray dy) {
    v.setInputs(in);
    return v.doForward(true, LayerWorkspaceMgr.noWorkspaces()).mul(dy).sumNumber().doubleValue();
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    long[][][] cases = {
        {{2, 3, 4, 5}, {2, 3, 1, 1}},          // SE: map first
        {{2, 3, 1, 1}, {2, 3, 4, 5}},          // SE: scale first (torchvision's `scale * input`)
        {{2, 2, 1, 3}, {2, 2, 4, 1}},          // broadcast both ways
        {{2, 2, 3, 3}, {2, 2, 1, 1}, {2, 1, 3, 3}}};
    int seed = 1;
    for (long[][] shapes : cases) {
      INDArray[] in = new INDArray[shapes.length];
      for (int i = 0; i < shapes.length; i++) {
        in[i] = randn(seed++, shapes[i]);
      }
      GraphVertex v = new BroadcastMul().instantiate(null, "mul", 0, null, false, DataType.DOUBLE);
      v.setInputs(in);
      INDArray y = v.doForward(true, LayerWorkspaceMgr.noWorkspaces());
      INDArray dy = randn(seed++, y.shape());
      v.setEpsilon(dy);
      INDArray[] grads = v.doBackward(false, LayerWorkspaceMgr.noWorkspaces()).getSecond();
      for (int i = 0; i < in.length; i++) {
        assertArrayEquals(in[i].shape(), grads[i].shape(), "gradient shape of input " + i);
        INDArray numeric = Nd4j.create(DataType.DOUBLE, in[i].shape());
        INDArray flat = in[i].reshape(in[i].length());
        for (long k = 0; k < in[i].length(); k++) {
          double x0 = flat.getDouble(k);
          flat.putScalar(k, x0 + 1e-6);
          double up = loss(v, in, dy);
          flat.putScalar(k, x0 - 1e-6);
          double down = loss(v, in, dy);
          flat.putScalar(k, x0);
          numeric.reshape(numeric.length()).putScalar(k, (up - down) / 2e-6);
        }
        double err = Transforms.abs(grads[i].sub(numeric)).maxNumber().doubleValue()
            / Transforms.abs(numeric).maxNumber().doubleValue();
        assertTrue(err < 1e-7, "input " + i + " of " + java.util.Arrays.deepToString(shapes) + ": max rel err " + err);
      }
    }
  }

  /**
   * Float maps and scales take one-pass kernels (scaled planes forward, the map's gradient the
   * same way, the scale's as each plane's sum of dy * x): against the general path in double, for
   * a scale per sample and one for the whole batch, map first and scale first.
   */
  @Test
  void squeezeAndExcitationKernelsMatchTheGeneralPathInDouble() {
    long[][][] cases = {{{3, 5, 7, 6}, {3, 5, 1, 1}}, {{3, 5, 1, 1}, {3, 5, 7, 6}}, {{2, 4, 9, 9}, {1, 4, 1, 1}}};
    int seed = 40;
    for (long[][] shapes : cases) {
      INDArray[] inD = {randn(seed++, shapes[0]), randn(seed++, shapes[1])};
      INDArray[] inF = {inD[0].castTo(DataType.FLOAT), inD[1].castTo(DataType.FLOAT)};
      GraphVertex d = new BroadcastMul().instantiate(null, "mul", 0, null, false, DataType.DOUBLE);
      GraphVertex f = new BroadcastMul().instantiate(null, "mul", 0, null, false, DataType.FLOAT);
      d.setInputs(inD);
      f.setInputs(inF);
      INDArray yd = d.doForward(true, LayerWorkspaceMgr.noWorkspaces());
      INDArray yf = f.doForward(true, LayerWorkspaceMgr.noWorkspaces());
      assertTrue(BroadcastMul.Impl.scaledMap(inF, yf) >= 0, "the kernels take " + java.util.Arrays.deepToString(shapes));
      INDArray dy = randn(seed++, yd.shape());
      d.setEpsilon(dy);
      f.setEpsilon(dy.castTo(DataType.FLOAT));
      INDArray[] gd = d.doBackward(false, LayerWorkspaceMgr.noWorkspaces()).getSecond();
      INDArray[] gf = f.doBackward(false, LayerWorkspaceMgr.noWorkspaces()).getSecond();
      String what = java.util.Arrays.deepToString(shapes);
      assertTrue(rel(yd, yf) < 1e-6, what + " output");
      for (int i = 0; i < 2; i++) {
        assertArrayEquals(inF[i].shape(), gf[i].shape(), what + " gradient shape " + i);
        assertTrue(rel(gd[i], gf[i]) < 1e-5, what + " gradient " + i + ": " + rel(gd[i], gf[i]));
      }
    }
  }

  private static double rel(INDArray a, INDArray b) {
    INDArray ad = a.castTo(DataType.DOUBLE);
    return Transforms.abs(ad.sub(b.castTo(DataType.DOUBLE))).maxNumber().doubleValue()
        / Transforms.abs(ad).maxNumber().doubleValue();
  }

  @Test
  void theOutputIsTheBroadcastProduct() {
    INDArray x = randn(20, 2, 3, 4, 5).castTo(DataType.FLOAT);
    INDArray s = randn(21, 2, 3, 1, 1).castTo(DataType.FLOAT);
    GraphVertex v = new BroadcastMul().instantiate(null, "mul", 0, null, false, DataType.FLOAT);
    v.setInputs(new INDArray[] {s, x});
    INDArray y = v.doForward(false, LayerWorkspaceMgr.noWorkspaces());
    for (int n = 0; n < 2; n++) {
      for (int c = 0; c < 3; c++) {
        for (int h = 0; h < 4; h++) {
          for (int w = 0; w < 5; w++) {
            // bit for bit: one float product, as PyTorch's
            float want = s.getFloat(n, c, 0, 0) * x.getFloat(n, c, h, w);
            assertTrue(want == y.getFloat(n, c, h, w), n + " " + c + " " + h + " " + w);
          }
        }
      }
    }
  }
}
