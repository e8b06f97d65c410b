// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.convolution_backward_data;
import org.bytedeco.dnnl.convolution_backward_weights;
import org.bytedeco.dnnl.convolution_forward;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.post_ops;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.reorder;
import org.bytedeco.dnnl.stream;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A conv's forward pass on a oneDNN convolution primitive of its own, through
 * {@code org.bytedeco:dnnl}'s binding ({@link OneDnn.Binding} loads it), made once per conv shape
 * and run as often as that shape comes: oneDNN picks its layouts (NHWC for oneDNN 2.5's AVX-512
 * kernels, channel blocks of 8 on AVX2), an NCHW input is reordered into the primitive's layout
 * and its output back to NCHW, while an input or output the caller keeps in oneDNN's layout
 * ({@link ConvLayout}, {@code predict}'s {@code CONV_LAYOUT} pass) is read or written as it is;
 * the bias is added inside the primitive, and SiLU too where the caller asks (oneDNN's
 * {@code eltwise_swish} post-op keeps NaN, as PyTorch's SiLU does). A ReLU is not fused as oneDNN's
 * post-op: that one turns NaN into 0, where PyTorch's ReLU keeps NaN ({@code OneDnnConvTest}); the
 * caller's pass applies it.
 * oneDNN 2.5 has no post-op that would do: tried on an AMD EPYC (AVX-512), {@code eltwise_clip}
 * and {@code eltwise_clip_v2} turn NaN into 0 too, and {@code eltwise_relu} with a slope keeps
 * NaN but scales negatives instead of zeroing them (docs/performance-history.md, session 27).
 *
 * <p>Why not ND4J's {@code conv2d} op, which cnnc used before: the op made its primitive
 * descriptor and reordered the weights at every call, and at batch 1 it took a layer far longer
 * than the primitive (64 -> 64 channels, 3x3 at 56^2: 4.98 ms against 0.74 with the reorders) on
 * a 2-core AMD EPYC; at batch 8 7.95 against 6.12 (docs/performance-history.md, session 25).
 *
 * <p>The arrays in oneDNN's layouts live in buffers of the calling thread, shared by every shape
 * ({@link Buffers}); a call locks its shape's primitives, so two threads running the same shape
 * take turns, and different shapes run at once. At most {@link #MAX_PLANS} shapes are kept (the
 * least recently used is dropped).
 */
final class OneDnnConv {
  private OneDnnConv() {}

  /**
   * The most conv shapes whose primitives are kept: a few networks' worth at a few batch sizes.
   * At 64, EfficientNet-B0 (some 35 shapes of conv on the primitive) called at two batch sizes in
   * turn made its primitives anew at every call (each costs milliseconds).
   */
  static final int MAX_PLANS = 256;

  private static final engine ENGINE = OneDnn.bindingFailure() == null ? new engine(engine.kind.cpu, 0) : null;

  private static final ThreadLocal<stream> STREAM = ThreadLocal.withInitial(() -> new stream(ENGINE));

  private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

  /**
   * A thread's buffers for the primitives' own layouts, one per slot (a plan's first reordered
   * array is slot 0, its second slot 1, ...), each as large as the largest asked of it: the
   * plans of a network share them, so they cost the largest conv's arrays, not the sum over
   * every conv shape. Aligned to 64 bytes; freed with the thread.
   */
  private static final class Buffers {
    /** One slot's memory: what was allocated, its first 64-byte aligned address, and how many bytes that holds. */
    private record Slot(org.bytedeco.javacpp.BytePointer raw, Pointer aligned, long bytes) {}

    private final java.util.List<Slot> slots = new java.util.ArrayList<>();

    Pointer get(int slot, long bytes) {
      while (slots.size() <= slot) {
        slots.add(null);
      }
      Slot s = slots.get(slot);
      if (s == null || s.bytes() < bytes) {
        if (s != null) {
          s.raw().close();
        }
        org.bytedeco.javacpp.BytePointer p = new org.bytedeco.javacpp.BytePointer(bytes + 64);
        if (p.isNull()) {
          throw new OutOfMemoryError("cannot allocate " + bytes + " bytes for a oneDNN conv's working layout");
        }
        s = new Slot(p, new Gemm.Address((p.address() + 63) & ~63L), bytes);
        slots.set(slot, s);
      }
      return s.aligned();
    }
  }

  /**
   * A conv's shape and pass, as primitives are made for it, and the layouts of its input and
   * output ({@link ConvLayout}'s codes).
   */
  private record Key(long n, long c, long h, long w, long o, int groups, ConvGemm.Geometry g, boolean bias,
      boolean backward, int inLayout, int outLayout, boolean silu) {}

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
   * {@code out = x * w + bias} ({@code bias} may be null) for a float input {@code x} of shape
   * {@code xShape} in layout {@code inLayout}, weights {@code w [o, c/groups, kh, kw]} (group
   * {@code i}'s outputs read group {@code i}'s inputs; depthwise with {@code groups = c}) and an
   * output in layout {@code outLayout} ({@link ConvLayout}'s codes), each array dense (NCHW ones
   * in C order), read and written by its address only. With {@code silu}, the primitive applies
   * SiLU to its output (oneDNN's {@code eltwise_swish} post-op: a NaN stays NaN, as PyTorch's
   * SiLU keeps it; {@code OneDnnConvTest}).
   */
  static void forward(INDArray x, long[] xShape, int inLayout, INDArray w, int groups, INDArray bias,
      ConvGemm.Geometry g, INDArray out, int outLayout, KeptWeights kept, boolean silu) {
    Key key = new Key(xShape[0], xShape[1], xShape[2], xShape[3], w.size(0), groups, g, bias != null, false, inLayout,
        outLayout, silu);
    // a plan another thread's new shape dropped meanwhile runs nothing: make it again
    while (!((Forward) plan(key, g.outH(xShape[2]), g.outW(xShape[3]))).run(x, w, bias, out, kept)) {
      Thread.onSpinWait();
    }
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(w);
    Reference.reachabilityFence(bias);
    Reference.reachabilityFence(out);
  }

  /**
   * The gradients of {@link #forward} for the output gradient {@code delta [n, o, oh, ow]}:
   * {@code dx} (skipped when null), {@code dw [o, c, kh, kw]} and {@code db [o]} (skipped when
   * null), each overwritten; every array dense in C order.
   */
  static void backward(INDArray x, INDArray w, INDArray delta, INDArray dx, INDArray dw, INDArray db,
      ConvGemm.Geometry g) {
    Key key = new Key(x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), 1, g, db != null, true, 0, 0, false);
    while (!((Backward) plan(key, delta.size(2), delta.size(3))).run(x, w, delta, dx, dw, db)) {
      Thread.onSpinWait();
    }
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(w);
    Reference.reachabilityFence(delta);
    Reference.reachabilityFence(dx);
    Reference.reachabilityFence(dw);
    Reference.reachabilityFence(db);
  }

  private static Plan plan(Key key, long oh, long ow) {
    synchronized (PLANS) {
      Plan plan = PLANS.get(key);
      if (plan == null) {
        plan = key.backward() ? new Backward(key, oh, ow) : new Forward(key, oh, ow);
        PLANS.put(key, plan);
        made++;
      }
      return plan;
    }
  }

  private static long made;

  /** How many shapes' primitives have been made since the class loaded, dropped ones included (for tests). */
  static long made() {
    synchronized (PLANS) {
      return made;
    }
  }

  /** How many conv shapes have a primitive now (for tests). */
  static int plans() {
    synchronized (PLANS) {
      return PLANS.size();
    }
  }

  /**
   * One shape's primitives, their reorders, and the memory objects they run on: the NCHW arrays'
   * (whose addresses are set at each call) and the primitives' own buffers, or the NCHW ones
   * themselves where a primitive's layout is NCHW (no reorder then). A call holds the plan's lock.
   */
  private abstract static class Plan implements AutoCloseable {
    private final java.util.List<Pointer> owned = new java.util.ArrayList<>();
    private boolean closed;

    /** {@code p}, closed with this plan. */
    <T extends Pointer> T own(T p) {
      if (p != null) {
        owned.add(p);
      }
      return p;
    }

    /** A memory object for the NCHW (or OIHW, or 1-d) array a call hands in. */
    memory user(memory.desc d) {
      return own(new memory(d, ENGINE, new Pointer()));
    }

    private final java.util.List<memory> inner = new java.util.ArrayList<>();
    private final java.util.List<Long> innerBytes = new java.util.ArrayList<>();

    /**
     * The primitive's buffer for layout {@code wanted}, or {@code user} when that is its layout.
     * The buffer is the calling thread's ({@link Buffers}), bound at each call ({@link #bindInner}).
     */
    memory inner(memory.desc wanted, memory user) {
      if (wanted.equals(user.get_desc())) {
        return user;
      }
      memory m = own(new memory(wanted, ENGINE, new Pointer()));
      inner.add(m);
      innerBytes.add(wanted.get_size());
      return m;
    }

    /** Points this plan's inner buffers at the calling thread's. */
    void bindInner() {
      Buffers b = BUFFERS.get();
      for (int i = 0; i < inner.size(); i++) {
        inner.get(i).set_data_handle(b.get(i, innerBytes.get(i)));
      }
    }

    /** A reorder from {@code from} to {@code to}, or null when they are one memory. */
    reorder reorder(memory from, memory to) {
      return from == to ? null : own(new reorder(from, to));
    }

    static void run(reorder r, stream s, memory from, memory to) {
      if (r != null) {
        r.execute(s, from, to);
      }
    }

    static memory.desc plain(long[] dims, memory.format_tag tag) {
      return new memory.desc(dims, memory.data_type.f32, tag);
    }

    static memory.desc any(memory.desc d) {
      return new memory.desc(d.dims(), memory.data_type.f32, memory.format_tag.any);
    }

    static void bind(memory m, INDArray a) {
      m.set_data_handle(new Gemm.Address(Gemm.address(a)));
    }

    /** Whether the plan was dropped (closed): a call that finds it so runs nothing. */
    boolean dropped() {
      return closed;
    }

    @Override
    public synchronized void close() {
      closed = true;
      for (int i = owned.size() - 1; i >= 0; i--) {
        owned.get(i).close();
      }
    }
  }

  /**
   * A shape's arrays as NCHW (OIHW for the weights, 1-d for the bias, or a zero description
   * without one) and its strides and padding (PyTorch's: the same on both sides).
   */
  private record Shape(memory.desc x, memory.desc w, memory.desc out, memory.desc bias, long[] strides,
      long[] padding, boolean fixedIn, boolean fixedOut) {
    static Shape of(Key k, long oh, long ow) {
      ConvGemm.Geometry g = k.g();
      return new Shape(activation(new long[] {k.n(), k.c(), k.h(), k.w()}, k.inLayout()),
          k.groups() == 1 ? Plan.plain(new long[] {k.o(), k.c(), g.kh(), g.kw()}, memory.format_tag.oihw)
              // PyTorch's [o, c/groups, kh, kw] is oneDNN's [groups, o/groups, c/groups, kh, kw]
              : Plan.plain(new long[] {k.groups(), k.o() / k.groups(), k.c() / k.groups(), g.kh(), g.kw()},
                  memory.format_tag.goihw),
          activation(new long[] {k.n(), k.o(), oh, ow}, k.outLayout()),
          k.bias() ? Plan.plain(new long[] {k.o()}, memory.format_tag.x) : new memory.desc(),
          new long[] {g.sh(), g.sw()}, new long[] {g.ph(), g.pw()}, k.inLayout() != ConvLayout.NCHW,
          k.outLayout() != ConvLayout.NCHW);
    }

    /**
     * The forward convolution's description for {@code kind}: oneDNN chooses the weights' layout,
     * and the activations' where they are NCHW (reordered to and from its choice); an input or
     * output in a layout of oneDNN's ({@link ConvLayout}) is taken as it is.
     */
    convolution_forward.primitive_desc forward(dnnl.prop_kind kind) {
      return forward(kind, false);
    }

    /** {@link #forward(dnnl.prop_kind)}, with SiLU applied to the output as a post-op when {@code silu}. */
    convolution_forward.primitive_desc forward(dnnl.prop_kind kind, boolean silu) {
      convolution_forward.desc d = new convolution_forward.desc(kind, dnnl.algorithm.convolution_direct,
          fixedIn ? x : Plan.any(x), Plan.any(w), bias, fixedOut ? out : Plan.any(out), strides, padding, padding);
      if (!silu) {
        return new convolution_forward.primitive_desc(d, ENGINE);
      }
      try (post_ops ops = new post_ops(); primitive_attr attr = new primitive_attr()) {
        ops.append_eltwise(1f, dnnl.algorithm.eltwise_swish, 1f, 0f);
        attr.set_post_ops(ops);
        return new convolution_forward.primitive_desc(d, attr, ENGINE);
      }
    }
  }

  /** The description of an activation of shape {@code nchw} in {@code layout} ({@link ConvLayout}'s codes). */
  private static memory.desc activation(long[] nchw, int layout) {
    // the layouts' names are oneDNN's format tags
    return Plan.plain(nchw, memory.format_tag.valueOf(ConvLayout.name(layout)));
  }

  /**
   * The layout oneDNN's forward convolutions choose for their activations on this CPU, found by
   * asking it once for a 32 -> 32 channel 3x3 conv at batch 8 ({@link ConvLayout}'s codes: NHWC
   * for its AVX-512 kernels in oneDNN 2.5, channel blocks of 8 on AVX2); NCHW when it chooses
   * none of those, or the binding did not load.
   */
  static int preferred() {
    return LayoutProbe.LAYOUT;
  }

  private static final class LayoutProbe {
    static final int LAYOUT = probe();

    private static int probe() {
      if (ENGINE == null) {
        return ConvLayout.NCHW;
      }
      long[] dims = {8, 32, 14, 14};
      Key k = new Key(8, 32, 14, 14, 32, 1, new ConvGemm.Geometry(3, 3, 1, 1, 1, 1, 1, 1), false, false, 0, 0,
          false);
      Shape sh = Shape.of(k, 14, 14);
      try (convolution_forward.primitive_desc pd = sh.forward(dnnl.prop_kind.forward_inference);
          memory.desc src = pd.src_desc();
          memory.desc dst = pd.dst_desc()) {
        for (int layout : new int[] {ConvLayout.NHWC, 16, 8}) {
          try (memory.desc d = activation(dims, layout)) {
            if (d.equals(src) && d.equals(dst)) {
              return layout;
            }
          }
        }
        return ConvLayout.NCHW;
      }
    }
  }

  /**
   * Copies the activation {@code from} of shape {@code nchw} in layout {@code fromLayout} into
   * {@code to} in layout {@code toLayout} ({@link ConvLayout}'s codes), on a reorder primitive
   * kept per shape.
   */
  static void reorder(INDArray from, int fromLayout, INDArray to, int toLayout, long[] nchw) {
    Reorders r;
    synchronized (REORDERS) {
      r = REORDERS.computeIfAbsent(new ReorderKey(java.util.List.of(nchw[0], nchw[1], nchw[2], nchw[3]), fromLayout,
          toLayout), k -> new Reorders((ReorderKey) k));
    }
    r.run(from, to);
    Reference.reachabilityFence(from);
    Reference.reachabilityFence(to);
  }

  private record ReorderKey(java.util.List<Long> nchw, int fromLayout, int toLayout) {}

  /**
   * Copies {@code from} ({@code [n, c, h, w]} as {@code nchw} gives it: dense in {@code fromLayout},
   * or NCHW with any strides, a view's) into channels {@code [at, at + c)} of {@code to} (dense,
   * {@code toNchw} in {@code toLayout}, one of oneDNN's): one input of a concatenation kept in
   * oneDNN's layout, on a reorder into the output's submemory. In a blocked layout {@code at} and
   * {@code c} are multiples of the block (the caller's to check).
   */
  static void reorderInto(INDArray from, long[] nchw, int fromLayout, INDArray to, long[] toNchw, int toLayout,
      long at) {
    if (fromLayout == ConvLayout.NCHW && from.rank() != 4) {
      throw new IllegalArgumentException("a concatenation's NCHW input is [n, c, h, w], not " + Arrays.toString(from.shape()));
    }
    java.util.List<Long> strides = fromLayout == ConvLayout.NCHW
        ? Arrays.stream(from.stride()).boxed().toList() : java.util.List.of();
    Reorders r;
    synchronized (REORDERS) {
      r = REORDERS.computeIfAbsent(new SliceKey(Arrays.stream(nchw).boxed().toList(), fromLayout, strides,
          Arrays.stream(toNchw).boxed().toList(), toLayout, at), k -> new Reorders((SliceKey) k));
    }
    r.run(from, to);
    Reference.reachabilityFence(from);
    Reference.reachabilityFence(to);
  }

  /** One input's reorder into a concatenation ({@link #reorderInto}): NCHW inputs by their strides. */
  private record SliceKey(java.util.List<Long> nchw, int fromLayout, java.util.List<Long> strides,
      java.util.List<Long> toNchw, int toLayout, long at) {}

  /**
   * The most reorders kept: between layouts per activation shape ({@link ReorderKey}), and into
   * concatenations per input ({@link SliceKey}; GoogLeNet has 36).
   */
  private static final int MAX_REORDERS = 256;

  private static final Map<Record, Reorders> REORDERS = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Record, Reorders> eldest) {
      // a dropped reorder is closed by the collector of its Reorders (a call may still run it)
      return size() > MAX_REORDERS;
    }
  };

  /** One shape's reorder between two layouts. */
  private static final class Reorders {
    private final memory from;
    private final memory to;
    private final reorder reorder;

    Reorders(ReorderKey k) {
      long[] dims = k.nchw().stream().mapToLong(Long::longValue).toArray();
      from = new memory(activation(dims, k.fromLayout()), ENGINE, new Pointer());
      to = new memory(activation(dims, k.toLayout()), ENGINE, new Pointer());
      reorder = new reorder(from, to);
    }

    Reorders(SliceKey k) {
      long[] dims = k.nchw().stream().mapToLong(Long::longValue).toArray();
      long[] toDims = k.toNchw().stream().mapToLong(Long::longValue).toArray();
      from = new memory(k.fromLayout() == ConvLayout.NCHW
          ? new memory.desc(dims, memory.data_type.f32, k.strides().stream().mapToLong(Long::longValue).toArray())
          : activation(dims, k.fromLayout()), ENGINE, new Pointer());
      try (memory.desc whole = activation(toDims, k.toLayout())) {
        to = new memory(whole.submemory_desc(dims, new long[] {0, k.at(), 0, 0}), ENGINE, new Pointer());
      }
      reorder = new reorder(from, to);
    }

    synchronized void run(INDArray a, INDArray b) {
      Plan.bind(from, a);
      Plan.bind(to, b);
      stream s = STREAM.get();
      reorder.execute(s, from, to);
      s._wait();
    }
  }

  /**
   * One conv's weights kept in the layouts its forward primitives want, for a network whose
   * weights are fixed ({@code CnnNetwork.forInference}'s, as ONNX Runtime pre-packs a session's
   * weights): reordered at a primitive's first call and reused after, where each call otherwise
   * reorders them (ResNet-50's about 100 MB per forward pass). The network drops them when its
   * weights change through its API ({@link #clear}); and each call checks that the weights are the
   * same array with the same length and the same bits at {@link #SAMPLES} spread positions,
   * reordering anew otherwise: a guard against a change made around the API (a changed array
   * that keeps every sampled value goes unseen; {@code CnnNetwork.weightsChanged} says so).
   */
  public static final class KeptWeights {
    /** How many of the weights' values each call compares with those the kept weights came from. */
    static final int SAMPLES = 64;

    /**
     * The most primitives (input shapes: a batch size, an image size) whose weights a conv keeps:
     * the least recently used is dropped past them, so that a network called with ever new
     * shapes keeps at most this many copies of its weights.
     */
    static final int MAX_KEPT = 4;

    private final Map<Key, INDArray> reordered = new LinkedHashMap<>(8, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<Key, INDArray> eldest) {
        return size() > MAX_KEPT;
      }
    };
    private long address = -1;
    private long length;
    private final int[] sample = new int[SAMPLES];
    /** Reorders made (a kept one reused does not count): for tests. */
    private int reorders;

    /** Drops the kept weights: the next call of each primitive reorders them again. */
    public synchronized void clear() {
      reordered.clear();
      address = -1;
    }

    synchronized int reorders() {
      return reorders;
    }

    /** The weights kept for {@code key} when {@code w} passes the guard, else null (all dropped). */
    private synchronized INDArray get(Key key, INDArray w) {
      java.nio.FloatBuffer b = w.data().asNioFloat();
      int at = (int) w.offset();
      long n = w.length();
      boolean same = Gemm.address(w) == address && n == length;
      for (int i = 0; i < SAMPLES && same; i++) {
        same = Float.floatToRawIntBits(b.get(at + (int) (i * n / SAMPLES))) == sample[i];
      }
      if (!same) {
        reordered.clear();
        address = Gemm.address(w);
        length = n;
        for (int i = 0; i < SAMPLES; i++) {
          sample[i] = Float.floatToRawIntBits(b.get(at + (int) (i * n / SAMPLES)));
        }
        return null;
      }
      return reordered.get(key);
    }

    private synchronized INDArray make(Key key, long bytes) {
      INDArray kept = org.nd4j.linalg.factory.Nd4j.createUninitializedDetached(
          org.nd4j.linalg.api.buffer.DataType.FLOAT, (bytes + 3) / 4);
      reordered.put(key, kept);
      reorders++;
      return kept;
    }
  }

  /** The forward primitive of one shape. */
  private static final class Forward extends Plan {
    private final Key key;
    private final convolution_forward conv;
    private final memory x;
    private final memory w;
    private final memory bias;
    private final memory out;
    private final memory bx;
    private final memory bw;
    private final memory bout;
    private final reorder toBx;
    private final reorder toBw;
    private final reorder fromBout;
    private final IntMemoryMap args = own(new IntMemoryMap());

    Forward(Key k, long oh, long ow) {
      key = k;
      Shape sh = Shape.of(k, oh, ow);
      convolution_forward.primitive_desc pd = own(sh.forward(dnnl.prop_kind.forward_inference, k.silu()));
      conv = own(new convolution_forward(pd));
      x = user(sh.x());
      w = user(sh.w());
      bias = k.bias() ? user(sh.bias()) : null;
      out = user(sh.out());
      bx = inner(pd.src_desc(), x);
      bw = inner(pd.weights_desc(), w);
      bout = inner(pd.dst_desc(), out);
      toBx = reorder(x, bx);
      toBw = reorder(w, bw);
      fromBout = reorder(bout, out);
      args.put(dnnl.DNNL_ARG_SRC, bx);
      args.put(dnnl.DNNL_ARG_WEIGHTS, bw);
      if (bias != null) {
        args.put(dnnl.DNNL_ARG_BIAS, bias);
      }
      args.put(dnnl.DNNL_ARG_DST, bout);
    }

    /**
     * Runs the conv, or returns false, doing nothing, when the plan was dropped; with the weights
     * in the primitive's layout from {@code kept} where it has them (null: reordered now).
     */
    synchronized boolean run(INDArray xa, INDArray wa, INDArray ba, INDArray outa, KeptWeights kept) {
      if (dropped()) {
        return false;
      }
      bind(x, xa);
      bind(w, wa);
      if (bias != null) {
        bind(bias, ba);
      }
      bind(out, outa);
      bindInner();
      stream s = STREAM.get();
      run(toBx, s, x, bx);
      if (kept != null && toBw != null) {
        INDArray ready = kept.get(key, wa);
        if (ready == null) {
          ready = kept.make(key, bw.get_desc().get_size());
          bw.set_data_handle(new Gemm.Address(Gemm.address(ready)));
          run(toBw, s, w, bw);
        } else {
          bw.set_data_handle(new Gemm.Address(Gemm.address(ready)));
        }
      } else {
        run(toBw, s, w, bw);
      }
      conv.execute(s, args);
      run(fromBout, s, bout, out);
      s._wait();
      return true;
    }
  }

  /**
   * The backward primitives of one shape: the input gradient (oneDNN's backward-data
   * convolution) and the weights' and bias's (backward-weights), each made against the forward
   * primitive's description, as oneDNN asks.
   */
  private static final class Backward extends Plan {
    private final convolution_backward_data data;
    private final convolution_backward_weights weights;
    private final memory x;
    private final memory w;
    private final memory delta;
    private final memory dx;
    private final memory dw;
    private final memory db;
    private final memory bw;
    private final memory bDeltaData;
    private final memory bdx;
    private final memory bx;
    private final memory bDeltaWeights;
    private final memory bdw;
    private final memory bdb;
    private final reorder toBw;
    private final reorder toBDeltaData;
    private final reorder fromBdx;
    private final reorder toBx;
    private final reorder toBDeltaWeights;
    private final reorder fromBdw;
    private final reorder fromBdb;
    private final IntMemoryMap dataArgs = own(new IntMemoryMap());
    private final IntMemoryMap weightArgs = own(new IntMemoryMap());

    Backward(Key k, long oh, long ow) {
      Shape sh = Shape.of(k, oh, ow);
      memory.desc xd = sh.x();
      memory.desc wd = sh.w();
      memory.desc outd = sh.out();
      memory.desc bd = sh.bias();
      long[] strides = sh.strides();
      long[] padding = sh.padding();
      convolution_forward.primitive_desc hint = own(sh.forward(dnnl.prop_kind.forward_training));
      convolution_backward_data.primitive_desc dpd = own(new convolution_backward_data.primitive_desc(
          new convolution_backward_data.desc(dnnl.algorithm.convolution_direct, any(xd), any(wd), any(outd), strides,
              padding, padding),
          ENGINE, hint));
      convolution_backward_weights.primitive_desc wpd = own(new convolution_backward_weights.primitive_desc(
          k.bias()
              ? new convolution_backward_weights.desc(dnnl.algorithm.convolution_direct, any(xd), any(wd), bd, any(outd),
                  strides, padding, padding)
              : new convolution_backward_weights.desc(dnnl.algorithm.convolution_direct, any(xd), any(wd), any(outd),
                  strides, padding, padding),
          ENGINE, hint));
      data = own(new convolution_backward_data(dpd));
      weights = own(new convolution_backward_weights(wpd));
      x = user(xd);
      w = user(wd);
      delta = user(outd);
      dx = user(xd);
      dw = user(wd);
      db = k.bias() ? user(bd) : null;
      bw = inner(dpd.weights_desc(), w);
      bDeltaData = inner(dpd.diff_dst_desc(), delta);
      bdx = inner(dpd.diff_src_desc(), dx);
      bx = inner(wpd.src_desc(), x);
      bDeltaWeights = wpd.diff_dst_desc().equals(dpd.diff_dst_desc()) ? bDeltaData : inner(wpd.diff_dst_desc(), delta);
      bdw = inner(wpd.diff_weights_desc(), dw);
      bdb = db == null ? null : inner(wpd.diff_bias_desc(), db);
      toBw = reorder(w, bw);
      toBDeltaData = reorder(delta, bDeltaData);
      fromBdx = reorder(bdx, dx);
      toBx = reorder(x, bx);
      toBDeltaWeights = bDeltaWeights == bDeltaData ? null : reorder(delta, bDeltaWeights);
      fromBdw = reorder(bdw, dw);
      fromBdb = db == null ? null : reorder(bdb, db);
      dataArgs.put(dnnl.DNNL_ARG_DIFF_DST, bDeltaData);
      dataArgs.put(dnnl.DNNL_ARG_WEIGHTS, bw);
      dataArgs.put(dnnl.DNNL_ARG_DIFF_SRC, bdx);
      weightArgs.put(dnnl.DNNL_ARG_SRC, bx);
      weightArgs.put(dnnl.DNNL_ARG_DIFF_DST, bDeltaWeights);
      weightArgs.put(dnnl.DNNL_ARG_DIFF_WEIGHTS, bdw);
      if (db != null) {
        weightArgs.put(dnnl.DNNL_ARG_DIFF_BIAS, bdb);
      }
    }

    /** Runs the gradients, or returns false, doing nothing, when the plan was dropped. */
    synchronized boolean run(INDArray xa, INDArray wa, INDArray deltaa, INDArray dxa, INDArray dwa, INDArray dba) {
      if (dropped()) {
        return false;
      }
      bind(x, xa);
      bind(w, wa);
      bind(delta, deltaa);
      bind(dw, dwa);
      if (db != null) {
        bind(db, dba);
      }
      bindInner();
      stream s = STREAM.get();
      // the output gradient in the backward-data layout (the weights' pass shares it when it can)
      run(toBDeltaData, s, delta, bDeltaData);
      if (dxa != null) {
        bind(dx, dxa);
        run(toBw, s, w, bw);
        data.execute(s, dataArgs);
        run(fromBdx, s, bdx, dx);
      }
      run(toBx, s, x, bx);
      run(toBDeltaWeights, s, delta, bDeltaWeights);
      weights.execute(s, weightArgs);
      run(fromBdw, s, bdw, dw);
      if (db != null) {
        run(fromBdb, s, bdb, db);
      }
      s._wait();
      return true;
    }
  }
}
