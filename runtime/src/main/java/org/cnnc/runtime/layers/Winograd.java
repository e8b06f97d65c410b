// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.nio.FloatBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * 3x3 convolutions of stride 1 by Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016): each 4x4 block of outputs comes from a 6x6
 * block of inputs through 36 products per input and output channel instead of 144, so the
 * multiply-adds of the conv's matrix products fall by 4x. In three steps, per block of tile rows:
 *
 * <ol>
 *   <li>the weights' transform {@code U = G g G^T}, {@code [36][out][in]} (once per call, or kept
 *       across inference calls by {@link WinogradWeights});
 *   <li>the inputs' transform {@code V = B^T d B} of every 6x6 tile (tiles 4 apart, zero outside
 *       the map), {@code [36][in][tiles]}, on the Vector API, the lanes running over neighbouring
 *       tiles of a row;
 *   <li>36 matrix products {@code M_k = U_k V_k} in one batched MKL call, then the outputs'
 *       transform {@code Y = A^T M A}, the bias and the fused activation, written as NCHW.
 * </ol>
 *
 * <p><b>Exactness.</b> The transforms round differently from a direct sum (the difference is of
 * the order of float's precision times the sum's magnitude: {@code WinogradTest} holds every
 * output within 5e-6 of the sum of |w x| it is made of, against a direct sum in double, as the
 * im2col path is held). A non-finite value or an overflow changes more outputs than a direct
 * convolution would (a tile's transform mixes its 36 inputs), so when any output comes out
 * non-finite, {@link #forward} says so and the caller computes the conv the direct way: its
 * infinities and NaNs are then exactly those of PyTorch's.
 *
 * <p>Which convs take it is {@link ConvGemm#winograd}'s rule (large maps, where it beat im2col
 * and MKL by 1.3-2x in {@code WinogradBench}; oneDNN keeps the maps it takes). Only the forward
 * pass: the backward stays on the direct paths. Loaded only when {@link Vectors#on()}; every loop
 * works on whole vectors over arrays sized for them.
 */
final class Winograd {
  private Winograd() {}

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final int L = S.length();

  /** Positions of a transformed 6x6 tile. */
  private static final int P = 36;

  /** Weight pairs (output, input channel) a task of the weights' transform takes at a time. */
  private static final int PAIRS = 1024;

  /** Floats of {@code V} and {@code M} together that a block of tile rows may take: 8 MB, in cache between the steps. */
  static final long BLOCK_FLOATS = 2L << 20;

  /**
   * {@code out = act(x * w + bias)} for {@code x [b, c, h, w]}, {@code w [o, c, 3, 3]} (both C
   * order, float), stride 1 and the padding of {@code g}; {@code out [b, o, oh, ow]} C order.
   * Returns false, with {@code out} partly written, when an output came out non-finite: the
   * caller then computes the conv the direct way.
   */
  static boolean forward(INDArray x, INDArray w, float[] bias, float cap, ConvGemm.Geometry g, INDArray out,
      LayerWorkspaceMgr mgr, ArrayType type, WinogradWeights kept) {
    return forward(x, w, bias, cap, g, out, mgr, type, BLOCK_FLOATS, kept);
  }

  /**
   * {@link #forward} with blocks of tile rows of about {@code blockFloats} floats of {@code V} and
   * {@code M} (at least a row); the weights' transform is {@code kept}'s when not null, else made
   * for this call.
   */
  static boolean forward(INDArray x, INDArray w, float[] bias, float cap, ConvGemm.Geometry g, INDArray out,
      LayerWorkspaceMgr mgr, ArrayType type, long blockFloats, WinogradWeights kept) {
    int b = (int) x.size(0);
    int c = (int) x.size(1);
    int o = (int) w.size(0);
    int oh = (int) out.size(2);
    int ow = (int) out.size(3);
    int tw = (ow + 3) / 4;
    int th = (oh + 3) / 4;
    int rowsTotal = b * th;
    // U is read again by every block's products: blocks at least as large as U (few, on small maps
    // of many channels) so that reading it costs no more than the block's own V and M
    long block = Math.max(blockFloats, (long) P * o * c);
    int rowsPer = (int) Math.max(1, Math.min(rowsTotal, block / ((long) P * (c + o) * tw)));
    int most = rowsPer * tw;
    INDArray u;
    if (kept != null) {
      u = kept.transformed(w);
    } else {
      u = mgr.createUninitialized(type, DataType.FLOAT, new long[] {(long) P * o * c}, 'c');
      weights(w, o * c, u);
    }
    INDArray v = mgr.createUninitialized(type, DataType.FLOAT, new long[] {(long) P * c * most}, 'c');
    INDArray m = mgr.createUninitialized(type, DataType.FLOAT, new long[] {(long) P * o * most}, 'c');
    Plan p = new Plan(c, o, (int) x.size(2), (int) x.size(3), oh, ow, th, tw, g.ph(), g.pw());
    AtomicBoolean finite = new AtomicBoolean(true);
    for (int r0 = 0; r0 < rowsTotal && finite.get(); r0 += rowsPer) {
      int rows = Math.min(rowsPer, rowsTotal - r0);
      int n = rows * tw;
      inputs(p, x, v, r0, rows, n);
      Gemm.stridedBatch(false, false, o, n, c, u, c, (long) o * c, v, n, (long) c * n, 0.0, m, n, (long) o * n, P);
      outputs(p, m, out, bias, cap, r0, rows, n, finite);
    }
    return finite.get();
  }

  /** The sizes of one call. */
  private record Plan(int c, int o, int h, int w, int oh, int ow, int th, int tw, int ph, int pw) {
    /** Tiles a row, rounded up to whole vectors. */
    int twUp() {
      return (tw + L - 1) / L * L;
    }
  }

  /** {@code u[k][pair]} = the transform {@code G g G^T} of the 3x3 weights of each (output, input) pair. */
  static void weights(INDArray w, int pairs, INDArray u) {
    weights(w.data().asNioFloat(), (int) w.offset(), pairs, u);
    Reference.reachabilityFence(w);
    Reference.reachabilityFence(u);
  }

  /** {@link #weights(INDArray, int, INDArray)} for the weights in {@code wb} from {@code wBase}. */
  static void weights(FloatBuffer wb, int wBase, int pairs, INDArray u) {
    FloatBuffer ub = u.data().asNioFloat();
    int uBase = (int) u.offset();
    int chunks = (pairs + PAIRS - 1) / PAIRS;
    int tasks = Depthwise.tasks(chunks, (long) PAIRS * 150);
    Parallel.forEach(tasks, task -> {
      float[] raw = Scratch.floats(0, 9 * PAIRS);
      float[] taps = Scratch.floats(1, 9 * PAIRS);
      float[] res = Scratch.floats(2, P * PAIRS);
      float[] tmp = Scratch.floats(3, 18 * L);
      int from = (int) ((long) task * chunks / tasks);
      int to = (int) ((long) (task + 1) * chunks / tasks);
      for (int ch = from; ch < to; ch++) {
        int p0 = ch * PAIRS;
        int count = Math.min(PAIRS, pairs - p0);
        wb.get(wBase + 9 * p0, raw, 0, 9 * count);
        for (int q = 0; q < count; q++) {
          for (int t = 0; t < 9; t++) {
            taps[t * PAIRS + q] = raw[9 * q + t];
          }
        }
        // the last vector's lanes past count transform left-over floats, which are not stored
        for (int q = 0; q < count; q += L) {
          weightTransform(taps, q, tmp, res);
        }
        for (int k = 0; k < P; k++) {
          ub.put(uBase + k * pairs + p0, res, k * PAIRS, count);
        }
      }
    });
    Reference.reachabilityFence(u);
  }

  private static final float Q4 = 1f / 4;
  private static final float Q6 = 1f / 6;
  private static final float Q12 = 1f / 12;
  private static final float Q24 = 1f / 24;

  /** {@code G g G^T} for {@link #L} pairs at {@code q}: taps {@code t} at {@code t*PAIRS + q}, results {@code k} at {@code k*PAIRS + q}. */
  private static void weightTransform(float[] taps, int q, float[] tmp, float[] res) {
    // the columns first: tmp[i][l] = sum_k G[i][k] g[k][l]
    for (int l = 0; l < 3; l++) {
      FloatVector a0 = FloatVector.fromArray(S, taps, l * PAIRS + q);
      FloatVector a1 = FloatVector.fromArray(S, taps, (3 + l) * PAIRS + q);
      FloatVector a2 = FloatVector.fromArray(S, taps, (6 + l) * PAIRS + q);
      gColumn(a0, a1, a2, tmp, l * L, 3 * L);
    }
    // then the rows: U[i][j] = sum_l tmp[i][l] G[j][l]
    for (int i = 0; i < 6; i++) {
      FloatVector a0 = FloatVector.fromArray(S, tmp, (i * 3) * L);
      FloatVector a1 = FloatVector.fromArray(S, tmp, (i * 3 + 1) * L);
      FloatVector a2 = FloatVector.fromArray(S, tmp, (i * 3 + 2) * L);
      gColumn(a0, a1, a2, res, i * 6 * PAIRS + q, PAIRS);
    }
  }

  /** {@code G (a0, a1, a2)^T}, the six values into {@code dst[at + i*step]}. */
  private static void gColumn(FloatVector a0, FloatVector a1, FloatVector a2, float[] dst, int at, int step) {
    FloatVector even = a0.add(a2);
    a0.mul(Q4).intoArray(dst, at);
    even.add(a1).mul(-Q6).intoArray(dst, at + step);
    even.sub(a1).mul(-Q6).intoArray(dst, at + 2 * step);
    FloatVector base = a0.mul(Q24).add(a2.mul(Q6));
    FloatVector mid = a1.mul(Q12);
    base.add(mid).intoArray(dst, at + 3 * step);
    base.sub(mid).intoArray(dst, at + 4 * step);
    a2.intoArray(dst, at + 5 * step);
  }

  /**
   * {@code V} of tile rows {@code r0 .. r0+rows-1} (tile row {@code r} is sample {@code r / th},
   * row {@code r % th}), {@code [36][c][n]}, channel by channel: each channel's input rows of the
   * block split by column phase once, then transformed tile by tile, stored straight into
   * {@code v}'s memory.
   */
  private static void inputs(Plan p, INDArray x, INDArray v, int r0, int rows, int n) {
    FloatBuffer xb = x.data().asNioFloat();
    FloatBuffer vb = v.data().asNioFloat();
    int xBase = (int) x.offset();
    int vBase = (int) v.offset();
    int vs = n + L;
    int h = p.h();
    int w = p.w();
    int th = p.th();
    int tw = p.tw();
    int twUp = p.twUp();
    int ps = twUp + L;
    // padded rows of the most tile rows of one sample a block holds
    int padRows = 4 * Math.min(rows, th) + 2;
    int phase = padRows * ps;
    int c = p.c();
    int tasks = Depthwise.tasks(c, (long) n * 200);
    Parallel.forEach(tasks, task -> {
      float[] xs = Scratch.floats(0, Math.min(padRows, h) * w);
      float[] phases = Scratch.floats(1, 4 * phase);
      float[] vv = Scratch.floats(2, P * vs);
      float[] zs = Scratch.floats(3, P * L);
      int from = (int) ((long) task * c / tasks);
      int to = (int) ((long) (task + 1) * c / tasks);
      for (int ic = from; ic < to; ic++) {
        for (int r = r0; r < r0 + rows;) {
          int sample = r / th;
          int t0 = r % th;
          int t1 = Math.min(th, t0 + (r0 + rows - r));
          int top = 4 * t0 - p.ph();
          int count = 4 * (t1 - t0) + 2;
          int iyFrom = Math.max(0, top);
          int iyTo = Math.min(h, top + count);
          if (iyTo > iyFrom) {
            xb.get(xBase + ((sample * c + ic) * h + iyFrom) * w, xs, 0, (iyTo - iyFrom) * w);
          }
          for (int lr = 0; lr < count; lr++) {
            int iy = top + lr;
            if (iy < iyFrom || iy >= iyTo) {
              for (int k = 0; k < 4; k++) {
                java.util.Arrays.fill(phases, k * phase + lr * ps, k * phase + (lr + 1) * ps, 0f);
              }
            } else {
              split(xs, (iy - iyFrom) * w, w, p.pw(), phases, phase, lr * ps, ps);
            }
          }
          for (int t = t0; t < t1; t++) {
            int local = r - r0 + t - t0;
            for (int j0 = 0; j0 < twUp; j0 += L) {
              inputTransform(phases, phase, 4 * (t - t0) * ps, ps, j0, zs, vv, local * tw + j0, vs);
            }
          }
          r += t1 - t0;
        }
        for (int k = 0; k < P; k++) {
          vb.put(vBase + (k * c + ic) * n, vv, k * vs, n);
        }
      }
    });
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(v);
  }

  /**
   * A row of {@code w} floats at {@code at} of {@code row}, with {@code pw} zeros before it and
   * zeros after it, split by column phase: padded column {@code pc} goes to
   * {@code phases[(pc%4)*phase + rowAt + pc/4]}, for {@code pc < 4*ps}.
   */
  private static void split(float[] row, int at, int w, int pw, float[] phases, int phase, int rowAt, int ps) {
    int end = 4 * ps;
    int pc = 0;
    for (; pc < pw; pc++) {
      phases[(pc & 3) * phase + rowAt + (pc >> 2)] = 0f;
    }
    for (int i = 0; i < w; i++, pc++) {
      phases[(pc & 3) * phase + rowAt + (pc >> 2)] = row[at + i];
    }
    for (; pc < end; pc++) {
      phases[(pc & 3) * phase + rowAt + (pc >> 2)] = 0f;
    }
  }

  /**
   * {@code B^T d B} of the tiles {@code j0 .. j0+L-1} of the tile row whose first padded row is at
   * {@code rowAt} of each phase, into {@code vv[k*vs + at ..]} for position {@code k}.
   */
  private static void inputTransform(float[] phases, int phase, int rowAt, int ps, int j0, float[] zs, float[] vv,
      int at, int vs) {
    // the columns first: z[i][col] = sum_r B^T[i][r] d[r][col]
    for (int col = 0; col < 6; col++) {
      bt(phases, (col & 3) * phase + rowAt + j0 + (col >> 2), ps, zs, col * L, 6 * L);
    }
    // then the rows: V[i][j] = sum_col z[i][col] B[col][j]
    for (int i = 0; i < 6; i++) {
      bt(zs, i * 6 * L, L, vv, i * 6 * vs + at, vs);
    }
  }

  /** {@code B^T} times the six vectors at {@code src[at + r*step]}, {@code r < 6}, into {@code dst[dAt + i*dStep]}. */
  private static void bt(float[] src, int at, int step, float[] dst, int dAt, int dStep) {
    FloatVector d0 = FloatVector.fromArray(S, src, at);
    FloatVector d1 = FloatVector.fromArray(S, src, at + step);
    FloatVector d2 = FloatVector.fromArray(S, src, at + 2 * step);
    FloatVector d3 = FloatVector.fromArray(S, src, at + 3 * step);
    FloatVector d4 = FloatVector.fromArray(S, src, at + 4 * step);
    FloatVector d5 = FloatVector.fromArray(S, src, at + 5 * step);
    FloatVector t1 = d4.sub(d2.mul(4f));
    FloatVector t2 = d3.sub(d1.mul(4f));
    FloatVector t3 = d4.sub(d2);
    FloatVector t4 = d3.sub(d1).mul(2f);
    d0.mul(4f).sub(d2.mul(5f)).add(d4).intoArray(dst, dAt);
    t1.add(t2).intoArray(dst, dAt + dStep);
    t1.sub(t2).intoArray(dst, dAt + 2 * dStep);
    t3.add(t4).intoArray(dst, dAt + 3 * dStep);
    t3.sub(t4).intoArray(dst, dAt + 4 * dStep);
    d1.mul(4f).sub(d3.mul(5f)).add(d5).intoArray(dst, dAt + 5 * dStep);
  }

  /**
   * {@code Y = A^T M A} of tile rows {@code r0 ..} from {@code m [36][o][n]}, plus the bias, then
   * the activation, into {@code out}, output channel by channel; clears {@code finite} when an
   * output (before the activation) is not finite.
   */
  private static void outputs(Plan p, INDArray m, INDArray out, float[] bias, float cap, int r0, int rows, int n,
      AtomicBoolean finite) {
    FloatBuffer mb = m.data().asNioFloat();
    FloatBuffer ob = out.data().asNioFloat();
    int mBase = (int) m.offset();
    int vs = n + L;
    int oBase = (int) out.offset();
    int twUp = p.twUp();
    int tw = p.tw();
    int o = p.o();
    int ow = p.ow();
    int oh = p.oh();
    int tasks = Depthwise.tasks(o, (long) n * 150);
    Parallel.forEach(tasks, task -> {
      float[] mm = Scratch.floats(0, P * vs);
      float[] ys = Scratch.floats(1, 16 * twUp);
      float[] rowsOut = Scratch.floats(2, 4 * ow);
      float[] ts = Scratch.floats(3, 28 * L);
      FloatVector check = FloatVector.zero(S);
      int from = (int) ((long) task * o / tasks);
      int to = (int) ((long) (task + 1) * o / tasks);
      for (int oc = from; oc < to; oc++) {
        for (int k = 0; k < P; k++) {
          mb.get(mBase + (k * o + oc) * n, mm, k * vs, n);
          // the lanes past the block's last tile: zeros, whose outputs are finite and not written
          java.util.Arrays.fill(mm, k * vs + n, k * vs + vs, 0f);
        }
        float add = bias == null ? 0f : bias[oc];
        for (int r = 0; r < rows; r++) {
          for (int j0 = 0; j0 < twUp; j0 += L) {
            check = outputTransform(mm, vs, r * tw + j0, ts, ys, twUp, j0, add, cap, check);
          }
          int sample = (r0 + r) / p.th();
          int y0 = 4 * ((r0 + r) % p.th());
          int valid = Math.min(4, oh - y0);
          for (int a = 0; a < valid; a++) {
            int dst = a * ow;
            int src = a * 4 * twUp;
            for (int ox = 0; ox < ow; ox++) {
              rowsOut[dst + ox] = ys[src + (ox & 3) * twUp + (ox >> 2)];
            }
          }
          ob.put(oBase + ((sample * o + oc) * oh + y0) * ow, rowsOut, 0, valid * ow);
        }
      }
      float[] lanes = new float[L];
      check.intoArray(lanes, 0);
      for (float f : lanes) {
        if (f != 0f) {
          finite.set(false);
        }
      }
    });
    Reference.reachabilityFence(m);
    Reference.reachabilityFence(out);
  }

  /**
   * {@code A^T M A} of the {@link #L} tiles at {@code at} of {@code mm} (position {@code k} at
   * {@code k*vs + at}), plus {@code add}, the activation of {@code cap}, into {@code ys[(a*4 + b)*qs + j0 ..]};
   * returns {@code check} plus zero times every output (NaN once one is not finite).
   */
  private static FloatVector outputTransform(float[] mm, int vs, int at, float[] ts, float[] ys, int qs, int j0,
      float add, float cap, FloatVector check) {
    // the rows first: t[i][b] = sum_j M[i][j] A[j][b], at ts[(i*4 + b)*L]
    for (int i = 0; i < 6; i++) {
      at(mm, i * 6 * vs + at, vs, ts, i * 4 * L, L);
    }
    FloatVector bias = FloatVector.broadcast(S, add);
    // then the columns: y[a][b] = sum_i A^T[a][i] t[i][b], at ts[(24 + a)*L]
    for (int bb = 0; bb < 4; bb++) {
      at(ts, bb * L, 4 * L, ts, 24 * L, L);
      for (int a = 0; a < 4; a++) {
        check = emit(FloatVector.fromArray(S, ts, (24 + a) * L), bias, cap, ys, (4 * a + bb) * qs + j0, check);
      }
    }
    return check;
  }

  /** {@code A^T} times the six vectors at {@code src[from + j*step]}, {@code j < 6}, into {@code dst[dAt + b*dStep]}. */
  private static void at(float[] src, int from, int step, float[] dst, int dAt, int dStep) {
    FloatVector m0 = FloatVector.fromArray(S, src, from);
    FloatVector m1 = FloatVector.fromArray(S, src, from + step);
    FloatVector m2 = FloatVector.fromArray(S, src, from + 2 * step);
    FloatVector m3 = FloatVector.fromArray(S, src, from + 3 * step);
    FloatVector m4 = FloatVector.fromArray(S, src, from + 4 * step);
    FloatVector m5 = FloatVector.fromArray(S, src, from + 5 * step);
    FloatVector pp = m1.add(m2);
    FloatVector qq = m1.sub(m2);
    FloatVector rr = m3.add(m4);
    FloatVector ss = m3.sub(m4);
    m0.add(pp).add(rr).intoArray(dst, dAt);
    qq.add(ss.mul(2f)).intoArray(dst, dAt + dStep);
    pp.add(rr.mul(4f)).intoArray(dst, dAt + 2 * dStep);
    qq.add(ss.mul(8f)).add(m5).intoArray(dst, dAt + 3 * dStep);
  }

  /** {@code y + bias}, activated by {@code cap}, into {@code ys[at ..]}; returns {@code check} plus zero times the sum. */
  private static FloatVector emit(FloatVector y, FloatVector bias, float cap, float[] ys, int at, FloatVector check) {
    FloatVector v = y.add(bias);
    FloatVector checked = check.add(v.mul(0f));
    if (cap > 0) {
      v = v.max(0f);
      if (cap != Float.POSITIVE_INFINITY) {
        v = v.min(cap);
      }
    }
    v.intoArray(ys, at);
    return checked;
  }
}
