package org.cnnc.runtime;

import java.util.List;

/**
 * A network as cnnc generates it from a {@code model} of a spec. The generated class describes
 * the network (its name, input and outputs, the figures the compiler computed) and builds it op by
 * op on a {@link NetBuilder}; {@link CnnNetwork#create} turns it into a DL4J graph.
 */
public interface CnnModel {
  /** The model's name in the spec. */
  String name();

  /** One example's input shape, {@code [C, H, W]} or {@code [F]}. */
  long[] inputShape();

  /** The outputs' names, in the order the graph produces them. */
  List<String> outputNames();

  /** Adds the network's ops to the builder. */
  void build(NetBuilder b);
}
