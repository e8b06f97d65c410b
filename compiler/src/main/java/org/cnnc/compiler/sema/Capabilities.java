// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.shape.Backend;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.shape.Shape;

/**
 * What the backends a build targets can run, checked on the shaped network: an op or argument a
 * backend cannot run is an error at the op's place, with the backend named (so {@code check}
 * accepts only what {@code run} runs). {@link #untrainable} is the one rule of which outputs
 * cnnc's trainer refuses (lint's {@code OUTPUT_NOT_CLASSES} warns of them), and
 * {@link #untrainableFrom} of which {@code cnnc train} refuses from the labels it reads (a class
 * per image, or per pixel with {@code --masks}).
 */
public final class Capabilities {
  private Capabilities() {}

  public static void check(Network net, Set<Backend> backends, Diagnostics diags) {
    for (Backend b : Backend.values()) {
      if (!backends.contains(b)) {
        continue;
      }
      for (Node n : net.nodes()) {
        OpDef def = Ops.get(n.op());
        if (def == null) {
          continue;
        }
        List<Shape> inputs = n.inputs().stream().map(i -> net.node(i).shape()).toList();
        def.refusal(b, n.args(), inputs).ifPresent(r -> {
          Diagnostic.Builder d = Diagnostic.error(Code.UNSUPPORTED_ON_BACKEND, n.span(),
                  "`" + n.op() + "` (" + n.name() + ") cannot run on backend " + b.id() + ": " + r.reason())
              .label(r.arg() != null ? r.arg() + " = " + n.arg(r.arg()).show() : "not on " + b.id())
              .note("backend " + b.id() + ": " + b.description());
          n.callChain().forEach(c -> d.note(c.message(), c.span()));
          diags.report(d.help("choose the backends to check with --backend (" + names() + ")"));
        });
      }
    }
  }

  /**
   * Whether an output of this shape is a map scored per pixel ({@code [C, H, W]} with H or W above
   * 1), not one result per example.
   */
  public static boolean perPixel(Shape shape) {
    return shape.rank() == 3 && (shape.height() != 1 || shape.width() != 1);
  }

  /**
   * Why an output with this loss and shape cannot be trained by cnnc's trainer (the one rule
   * {@code train} refuses with), or empty.
   */
  public static Optional<String> untrainable(String loss, Shape shape) {
    if (loss.equals("none")) {
      return Optional.empty();
    }
    if (perPixel(shape) && !loss.equals("cross_entropy")) {
      return Optional.of("a " + loss + " loss on a " + shape + " map: on maps cnnc trains cross_entropy only "
          + "(per pixel, against a class map)");
    }
    return Optional.empty();
  }

  /** The labels {@code cnnc train} reads: a class per image (an image folder, CIFAR-10) or per pixel (masks). */
  public enum Labels { PER_IMAGE, PER_PIXEL }

  /**
   * Why {@code cnnc train}, reading these labels, cannot train an output with this loss and shape,
   * or empty: {@link #untrainable}'s reasons; a map from a class per image; one result per image
   * from masks.
   */
  public static Optional<String> untrainableFrom(Labels labels, String loss, Shape shape) {
    Optional<String> why = untrainable(loss, shape);
    if (why.isPresent() || loss.equals("none") || perPixel(shape) == (labels == Labels.PER_PIXEL)) {
      return why;
    }
    return Optional.of(labels == Labels.PER_IMAGE
        ? "a " + loss + " loss on a " + shape + " map needs a class per pixel: give --data a folder of images/ and "
            + "masks/ (PNGs of class indices, paired by name) with --masks"
        : "--masks gives a class per pixel, but this " + loss + " output of shape " + shape + " has one result per "
            + "image: --masks trains [C, H, W] maps (train this output without --masks, from an image folder)");
  }

  /** The names {@link #parse} takes, for messages: {@code cpu, cuda, all or none}. */
  public static String names() {
    return String.join(", ", java.util.Arrays.stream(Backend.values()).map(Backend::id).toList()) + ", all or none";
  }

  /** Backends named on a command line or in a configuration: {@code cpu}, {@code cuda}, {@code all}, {@code none}. */
  public static Optional<Set<Backend>> parse(String text) {
    Set<Backend> out = java.util.EnumSet.noneOf(Backend.class);
    for (String part : text.toLowerCase(Locale.ROOT).split(",")) {
      String p = part.strip();
      if (p.equals("all")) {
        out.addAll(Set.of(Backend.values()));
      } else if (!p.equals("none")) {
        Optional<Backend> b = Backend.of(p);
        if (b.isEmpty()) {
          return Optional.empty();
        }
        out.add(b.get());
      }
    }
    return Optional.of(out);
  }
}
