// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * A grouped 2-d convolution (NCHW; weights {@code [out, in/groups, kh, kw]} as PyTorch keeps them):
 * group {@code i}'s outputs read only group {@code i}'s inputs. Three ways to compute it:
 *
 * <ul>
 *   <li>cnnc's kernels, depthwise (groups = in channels): {@link Depthwise}, direct;
 *   <li>cnnc's kernels, other groups: group by group through {@link ConvGemm} (im2col + GEMM, or
 *       oneDNN where it takes the group's conv), each group's result copied into its channels;
 *   <li>ND4J's ops only ({@code NetBuilder.Kernels.DL4J}, so any backend, CUDA included): group by
 *       group through ND4J's {@code conv2d} and {@code conv2d_bp} ops.
 * </ul>
 */
public final class GroupedConv {
  private GroupedConv() {}

  /**
   * {@code x [b, c, h, w]} (C order) convolved group by group with {@code w [o, c/groups, kh, kw]},
   * plus {@code bias [o]} (or null), then the fused activation of {@code cap} ({@link ChannelKernels#NONE}); allocated as
   * {@code outType}.
   */
  public static INDArray forward(INDArray x, INDArray w, INDArray bias, float cap, ConvGemm.Geometry g, int groups,
      boolean cnnc, LayerWorkspaceMgr mgr, ArrayType outType) {
    long b = x.size(0);
    long c = x.size(1);
    long o = w.size(0);
    long oh = g.outH(x.size(2));
    long ow = g.outW(x.size(3));
    INDArray out = mgr.createUninitialized(outType, x.dataType(), new long[] {b, o, oh, ow}, 'c');
    if (cnnc && Depthwise.takes(c, groups, x, out)) {
      Depthwise k = Depthwise.of((int) c, (int) (o / c), (int) x.size(2), (int) x.size(3), g);
      k.forward(x, ChannelKernels.floats(w), bias == null ? null : ChannelKernels.floats(bias), cap, out);
      return out;
    }
    long cg = c / groups;
    long og = o / groups;
    for (int i = 0; i < groups; i++) {
      INDArray xg = group(x, i, cg, mgr, ArrayType.FF_WORKING_MEM);
      INDArray wg = part(w, 0, i * og, og);
      INDArray bg = bias == null ? null : part(bias.reshape(o), 0, i * og, og);
      INDArray yg;
      if (cnnc) {
        yg = ConvGemm.forward(xg, wg, bg, cap, g, mgr, ArrayType.FF_WORKING_MEM);
      } else {
        yg = mgr.createUninitialized(ArrayType.FF_WORKING_MEM, x.dataType(), new long[] {b, og, oh, ow}, 'c');
        DynamicCustomOp.DynamicCustomOpsBuilder op = DynamicCustomOp.builder("conv2d");
        op = bg == null ? op.addInputs(xg, wg.dup('c')) : op.addInputs(xg, wg.dup('c'), bg.dup());
        Nd4j.exec(op.addOutputs(yg).addIntegerArguments(OneDnn.args(g)).build());
      }
      part(out, 1, i * og, og).assign(yg);
    }
    return cnnc ? out : ConvGemm.clamp(out, cap);
  }

  /**
   * The gradients of {@link #forward} (without ReLU: {@code delta} is the gradient of the
   * pre-activation, C-ordered): {@code dW} into {@code wGrad}, {@code db} into {@code bGrad} (may be
   * null), and {@code dx} returned, allocated as an activation gradient, or null without
   * {@code inputGradient}.
   */
  public static INDArray backward(INDArray x, INDArray w, INDArray delta, INDArray wGrad, INDArray bGrad,
      ConvGemm.Geometry g, int groups, boolean cnnc, boolean inputGradient, LayerWorkspaceMgr mgr) {
    long c = x.size(1);
    long o = w.size(0);
    INDArray dx = inputGradient ? mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, x.dataType(), x.shape(), 'c')
        : null;
    if (cnnc && Depthwise.takes(c, groups, x, delta) && (dx == null || ChannelKernels.direct(dx))) {
      Depthwise k = Depthwise.of((int) c, (int) (o / c), (int) x.size(2), (int) x.size(3), g);
      float[] dW = new float[(int) w.length()];
      float[] db = bGrad == null ? null : new float[(int) o];
      k.backward(x, ChannelKernels.floats(w), delta, dW, db, dx);
      ChannelKernels.put(dW, wGrad.reshape(wGrad.length()));
      if (db != null) {
        ChannelKernels.put(db, bGrad);
      }
      return dx;
    }
    long cg = c / groups;
    long og = o / groups;
    INDArray b1 = bGrad == null ? null : bGrad.reshape(o);
    for (int i = 0; i < groups; i++) {
      INDArray xg = group(x, i, cg, mgr, ArrayType.BP_WORKING_MEM);
      INDArray dg = group(delta, i, og, mgr, ArrayType.BP_WORKING_MEM);
      INDArray wg = part(w, 0, i * og, og);
      INDArray wGradG = part(wGrad, 0, i * og, og);
      INDArray bGradG = b1 == null ? null : part(b1, 0, i * og, og);
      INDArray dxg;
      if (cnnc) {
        INDArray wgc = ConvGemm.contiguous(wg, mgr, ArrayType.BP_WORKING_MEM);
        INDArray dwg = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, w.dataType(), wg.shape(), 'c');
        INDArray dbg = bGradG == null ? null
            : mgr.createUninitialized(ArrayType.BP_WORKING_MEM, w.dataType(), new long[] {og}, 'c');
        dxg = ConvGemm.backward(xg, wgc, dg, dwg, dbg, g, inputGradient, mgr);
        wGradG.assign(dwg);
        if (dbg != null) {
          bGradG.assign(dbg);
        }
      } else {
        dxg = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, x.dataType(), xg.shape(), 'c');
        INDArray dwg = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, w.dataType(), wg.shape(), 'c');
        INDArray wgc = wg.dup('c');
        DynamicCustomOp.DynamicCustomOpsBuilder op = DynamicCustomOp.builder("conv2d_bp");
        INDArray dbg = null;
        if (bGradG == null) {
          op = op.addInputs(xg, wgc, dg).addOutputs(dxg, dwg);
        } else {
          // the op reads only the bias's shape
          INDArray bg = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, w.dataType(), new long[] {og}, 'c');
          dbg = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, w.dataType(), new long[] {og}, 'c');
          op = op.addInputs(xg, wgc, bg, dg).addOutputs(dxg, dwg, dbg);
        }
        Nd4j.exec(op.addIntegerArguments(OneDnn.args(g)).build());
        if (dbg != null) {
          bGradG.assign(dbg);
        }
        wGradG.assign(dwg);
      }
      if (dx != null) {
        part(dx, 1, i * cg, cg).assign(dxg);
      }
    }
    return dx;
  }

  /** Channels {@code i*size .. (i+1)*size - 1} of {@code a [b, ch, h, w]}, C-ordered (a copy unless they are all). */
  private static INDArray group(INDArray a, int i, long size, LayerWorkspaceMgr mgr, ArrayType type) {
    if (size == a.size(1)) {
      return ConvGemm.contiguous(a, mgr, type);
    }
    return mgr.dup(type, part(ConvGemm.contiguous(a, mgr, type), 1, i * size, size), 'c');
  }

  /**
   * Indices {@code from .. from + count - 1} of {@code axis} of the C-ordered dense array {@code a},
   * as a view. Built from the buffer and offset: ND4J 1.0.0-M2.1's {@code get(interval(...))}
   * returned an empty array for the last of 32 groups of a {@code [128, 2, 3, 3]} weight view.
   */
  static INDArray part(INDArray a, int axis, long from, long count) {
    if (!ChannelKernels.rowMajorDense(a)) {
      throw new IllegalStateException("not a C-ordered dense array: " + a.shapeInfoToString());
    }
    long[] shape = a.shape().clone();
    shape[axis] = count;
    long[] stride = new long[shape.length];
    long step = 1;
    for (int d = shape.length - 1; d >= 0; d--) {
      stride[d] = step;
      step *= d == axis ? a.size(d) : shape[d];
    }
    return Nd4j.create(a.data(), shape, stride, a.offset() + from * stride[axis], 'c');
  }
}
