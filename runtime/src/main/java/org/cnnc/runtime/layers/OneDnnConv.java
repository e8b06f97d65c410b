// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A conv's forward pass on a oneDNN convolution primitive of its own, through
 * {@code org.bytedeco:dnnl}'s binding ({@link OneDnn.Binding} loads it), made once per conv shape
 * and run as often as that shape comes: oneDNN picks its layouts (channels in blocks of 16 on
 * AVX-512), the input is reordered into the primitive's layout and its output back to NCHW, and
 * the bias is added inside the primitive. A ReLU is not fused as oneDNN's post-op: that one turns
 * NaN into 0, where PyTorch's ReLU keeps NaN ({@code OneDnnConvTest}); the caller's pass applies it.
 *
 * <p>Why not ND4J's {@code conv2d} op, which cnnc used before: the op made its primitive
 * descriptor and reordered the weights at every call, and at batch 1 it took a layer far longer
 * than the primitive (64 -> 64 channels, 3x3 at 56^2: 4.98 ms against 0.74 with the reorders) on
 * a 2-core AMD EPYC; at batch 8 7.95 against 6.12 (docs/performance-history.md, session 25).
 *
 * <p>Each primitive keeps the buffers of its blocked input, weights and output; a call locks its
 * primitive, so two threads running the same shape take turns, and different shapes run at once.
 * At most {@link #MAX_PLANS} shapes are kept (the least recently used is dropped).
 */
final class OneDnnConv {
  private OneDnnConv() {}

  /** The most conv shapes whose primitives are kept. */
  static final int MAX_PLANS = 64;

  private static final engine ENGINE = OneDnn.bindingFailure() == null ? new engine(engine.kind.cpu, 0) : null;

  private static final ThreadLocal<stream> STREAM = ThreadLocal.withInitial(() -> new stream(ENGINE));

  /** A conv's shape, as a primitive is made for it. */
  private record Key(long n, long c, long h, long w, long o, ConvGemm.Geometry g, boolean bias) {}

  private static final Map<Key, Plan> PLANS = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Key, Plan> eldest) {
      if (size() > MAX_PLANS) {
        eldest.getValue().close();
        return true;
      }
      return false;
    }
  };

  /**
   * {@code out = x * w + bias} ({@code bias} may be null) for a float NCHW input
   * {@code x}, weights {@code w [o, c, kh, kw]} and output {@code out [n, o, oh, ow]}, all dense
   * in C order.
   */
  static void forward(INDArray x, INDArray w, INDArray bias, ConvGemm.Geometry g, INDArray out) {
    Key key = new Key(x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), g, bias != null);
    Plan plan;
    synchronized (PLANS) {
      plan = PLANS.get(key);
      if (plan == null) {
        plan = new Plan(key, out.size(2), out.size(3));
        PLANS.put(key, plan);
      }
    }
    plan.run(x, w, bias, out);
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(w);
    Reference.reachabilityFence(bias);
    Reference.reachabilityFence(out);
  }

  /** How many conv shapes have a primitive now (for tests). */
  static int plans() {
    synchronized (PLANS) {
      return PLANS.size();
    }
  }

  /** One shape's primitive, its reorders, and the memory objects they run on. */
  private static final class Plan implements AutoCloseable {
    private final convolution_forward conv;
    private final memory x;
    private final memory w;
    private final memory bias;
    private final memory out;
    /** The primitive's own buffers, or the NCHW ones where its layout is NCHW (no reorder). */
    private final memory bx;
    private final memory bw;
    private final memory bout;
    private final reorder toBx;
    private final reorder toBw;
    private final reorder fromBout;
    private final IntMemoryMap args = new IntMemoryMap();
    private boolean closed;

    Plan(Key k, long oh, long ow) {
      ConvGemm.Geometry g = k.g();
      memory.desc xd = plain(new long[] {k.n(), k.c(), k.h(), k.w()}, memory.format_tag.nchw);
      memory.desc wd = plain(new long[] {k.o(), k.c(), g.kh(), g.kw()}, memory.format_tag.oihw);
      memory.desc outd = plain(new long[] {k.n(), k.o(), oh, ow}, memory.format_tag.nchw);
      memory.desc bd = k.bias() ? plain(new long[] {k.o()}, memory.format_tag.x) : new memory.desc();
      long[] strides = {g.sh(), g.sw()};
      long[] padding = {g.ph(), g.pw()};
      convolution_forward.primitive_desc pd = new convolution_forward.primitive_desc(
          new convolution_forward.desc(dnnl.prop_kind.forward_inference, dnnl.algorithm.convolution_direct,
              any(xd), any(wd), bd, any(outd), strides, padding, padding),
          ENGINE);
      conv = new convolution_forward(pd);
      x = new memory(xd, ENGINE, new Pointer());
      w = new memory(wd, ENGINE, new Pointer());
      bias = k.bias() ? new memory(bd, ENGINE, new Pointer()) : null;
      out = new memory(outd, ENGINE, new Pointer());
      memory.desc pxd = pd.src_desc();
      memory.desc pwd = pd.weights_desc();
      memory.desc poutd = pd.dst_desc();
      bx = pxd.equals(xd) ? x : new memory(pxd, ENGINE);
      bw = pwd.equals(wd) ? w : new memory(pwd, ENGINE);
      bout = poutd.equals(outd) ? out : new memory(poutd, ENGINE);
      toBx = bx == x ? null : new reorder(x, bx);
      toBw = bw == w ? null : new reorder(w, bw);
      fromBout = bout == out ? null : new reorder(bout, out);
      args.put(dnnl.DNNL_ARG_SRC, bx);
      args.put(dnnl.DNNL_ARG_WEIGHTS, bw);
      if (bias != null) {
        args.put(dnnl.DNNL_ARG_BIAS, bias);
      }
      args.put(dnnl.DNNL_ARG_DST, bout);
    }

    private static memory.desc plain(long[] dims, memory.format_tag tag) {
      return new memory.desc(dims, memory.data_type.f32, tag);
    }

    private static memory.desc any(memory.desc d) {
      return new memory.desc(d.dims(), memory.data_type.f32, memory.format_tag.any);
    }

    synchronized void run(INDArray xa, INDArray wa, INDArray ba, INDArray outa) {
      if (closed) {
        throw new IllegalStateException("a oneDNN conv primitive was used after it was dropped");
      }
      x.set_data_handle(address(xa));
      w.set_data_handle(address(wa));
      if (bias != null) {
        bias.set_data_handle(address(ba));
      }
      out.set_data_handle(address(outa));
      stream s = STREAM.get();
      if (toBx != null) {
        toBx.execute(s, x, bx);
      }
      if (toBw != null) {
        toBw.execute(s, w, bw);
      }
      conv.execute(s, args);
      if (fromBout != null) {
        fromBout.execute(s, bout, out);
      }
      s._wait();
    }

    private static Pointer address(INDArray a) {
      return new Address(Gemm.address(a));
    }

    @Override
    public synchronized void close() {
      closed = true;
      for (Pointer p : new Pointer[] {args, toBx, toBw, fromBout, bx, bw, bout, x, w, bias, out, conv}) {
        if (p != null) {
          p.close();
        }
      }
    }
  }

  /** A pointer to memory ND4J owns: no allocation, no deallocator. */
  private static final class Address extends FloatPointer {
    Address(long address) {
      this.address = address;
    }
  }
}
