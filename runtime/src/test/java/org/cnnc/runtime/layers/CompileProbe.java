// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Runs each of cnnc's vector kernels once, forward and backward, for {@link VectorKernelsCompileTest}'s
 * JVM, which compiles every method of this package on first call with C1 and reports those it
 * cannot: depthwise convs of each kernel size the zoo uses (3, 5, 7) at strides 1 and 2, a
 * Winograd 3x3 conv, SiLU, max pooling and cnnc's vector matrix product.
 */
public final class CompileProbe {
  private CompileProbe() {}

  public static void main(String[] args) {
    LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
    Nd4j.getRandom().setSeed(1);
    for (int k : new int[] {3, 5, 7}) {
      for (int s : new int[] {1, 2}) {
        INDArray x = Nd4j.randn(DataType.FLOAT, 2, 8, 20, 20);
        INDArray w = Nd4j.randn(DataType.FLOAT, 8, 1, k, k);
        ConvGemm.Geometry g = new ConvGemm.Geometry(new int[] {k, k}, new int[] {s, s}, new int[] {k / 2, k / 2},
            new int[] {1, 1});
        INDArray y = GroupedConv.forward(x, w, Nd4j.randn(DataType.FLOAT, 8), ChannelKernels.RELU, g, 8, true, mgr,
            ArrayType.ACTIVATIONS);
        GroupedConv.backward(x, w, Nd4j.randn(DataType.FLOAT, y.shape()), Nd4j.create(DataType.FLOAT, w.shape()),
            Nd4j.create(DataType.FLOAT, 8), g, 8, true, true, mgr);
      }
    }
    INDArray x = Nd4j.randn(DataType.FLOAT, 4, 32, 28, 28);
    ConvGemm.Geometry g3 = new ConvGemm.Geometry(new int[] {3, 3}, new int[] {1, 1}, new int[] {1, 1}, new int[] {1, 1});
    INDArray w3 = Nd4j.randn(DataType.FLOAT, 32, 32, 3, 3);
    Winograd.forward(x, w3, null, ChannelKernels.RELU, g3, Nd4j.create(DataType.FLOAT, 4, 32, 28, 28), mgr,
        ArrayType.FF_WORKING_MEM, null);
    for (float cap : new float[] {ChannelKernels.RELU, ChannelKernels.SILU}) {
      // a first conv, computed directly: rows of four vectors and more, and of fewer
      for (int size : new int[] {150, 30}) {
        ConvGemm.Geometry g7 = new ConvGemm.Geometry(7, 7, 2, 2, 3, 3, 1, 1);
        DirectConv.forward(Nd4j.randn(DataType.FLOAT, 2, 3, size, size), Nd4j.randn(DataType.FLOAT, 16, 3, 7, 7),
            new float[16], cap, g7, Nd4j.create(DataType.FLOAT, 2, 16, g7.outH(size), g7.outW(size)));
      }
    }
    // batch norm's sums and the fused activations' masks (VectorSums)
    float[] p = new float[1000];
    float[] d = new float[1000];
    ChannelKernels.sum(p, 999);
    ChannelKernels.squaredDeviations(p, 999, 0.5);
    ChannelKernels.dotDeviations(d, p, 1, 997, 0.5f);
    ChannelKernels.positiveOnly(d, 3, p, 990);
    ChannelKernels.insideOnly(d, 3, p, 990, 6f);
    INDArray out = Nd4j.create(DataType.FLOAT, x.shape());
    ChannelKernels.silu(x, out);
    ChannelKernels.siluBackward(x, Nd4j.randn(DataType.FLOAT, x.shape()), out);
    for (int s : new int[] {1, 2}) {
      KernelHarness.Op pool = KernelHarness.layer(new CnncMaxPool(new int[] {3, 3}, new int[] {s, s}, new int[] {1, 1},
          new int[] {1, 1}, false), 1);
      INDArray y = pool.forward(java.util.List.of(x));
      pool.run(java.util.List.of(x), Nd4j.randn(DataType.FLOAT, y.shape()));
    }
    // cnnc's vector product: every transpose, both betas, a shared A over several products
    Gemm.use("vector");
    for (boolean ta : new boolean[] {false, true}) {
      for (boolean tb : new boolean[] {false, true}) {
        INDArray a = ta ? Nd4j.randn(DataType.FLOAT, 300, 40) : Nd4j.randn(DataType.FLOAT, 40, 300);
        INDArray b = tb ? Nd4j.randn(DataType.FLOAT, 70, 300) : Nd4j.randn(DataType.FLOAT, 300, 70);
        Gemm.gemm(a, b, Nd4j.randn(DataType.FLOAT, 40, 70), ta, tb, 1.0, ta ? 1.0 : 0.0);
      }
    }
    Gemm.stridedBatch(false, false, 40, 70, 300, Nd4j.randn(DataType.FLOAT, 40, 300), 300, 0,
        Nd4j.randn(DataType.FLOAT, 3, 300, 70), 70, 300L * 70, 0.0, Nd4j.create(DataType.FLOAT, 3, 40, 70), 70,
        40L * 70, 3);
    Gemm.use("auto");
    System.out.println("probed");
  }
}
