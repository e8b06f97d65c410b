// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Channel shuffle moves channel {@code j * C/g + i} to {@code i * g + j}, and its backward pass
 * moves each gradient back: the input gradient of {@code sum(y * dy)} is {@code dy} unshuffled.
 */
class ChannelShuffleTest {
  @Test
  void permutesChannelsAndBack() {
    for (int[] c : new int[][] {{6, 2}, {12, 3}, {8, 4}, {5, 1}}) {
      int channels = c[0];
      int g = c[1];
      Nd4j.getRandom().setSeed(channels);
      INDArray x = Nd4j.randn(DataType.FLOAT, 2, channels, 3, 4);
      GraphVertex v = new ChannelShuffle(g).instantiate(null, "s", 0, null, false, DataType.FLOAT);
      v.setInputs(new INDArray[] {x});
      INDArray y = v.doForward(true, LayerWorkspaceMgr.noWorkspaces()).dup();
      INDArray dy = Nd4j.randn(DataType.FLOAT, y.shape());
      v.setEpsilon(dy);
      INDArray dx = v.doBackward(false, LayerWorkspaceMgr.noWorkspaces()).getSecond()[0];
      for (int j = 0; j < g; j++) {
        for (int i = 0; i < channels / g; i++) {
          int from = j * (channels / g) + i;
          int to = i * g + j;
          assertEquals(x.get(all(), point(from)), y.get(all(), point(to)), from + " -> " + to);
          // d sum(y * dy) / d x[from] = dy[to]
          assertEquals(dy.get(all(), point(to)), dx.get(all(), point(from)), "gradient of channel " + from);
        }
      }
    }
  }

  private static org.nd4j.linalg.indexing.INDArrayIndex all() {
    return org.nd4j.linalg.indexing.NDArrayIndex.all();
  }

  private static org.nd4j.linalg.indexing.INDArrayIndex point(int i) {
    return org.nd4j.linalg.indexing.NDArrayIndex.point(i);
  }
}
