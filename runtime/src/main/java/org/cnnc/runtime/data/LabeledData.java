// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.data;

import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

/**
 * Examples in memory: features {@code [N, C, H, W]} in [0, 1], one-hot labels {@code [N, classes]},
 * and the files of the data that were skipped (no image a reader knows).
 */
public record LabeledData(INDArray features, INDArray labels, List<String> classes, List<java.nio.file.Path> skipped) {
  public LabeledData {
    skipped = List.copyOf(skipped);
  }

  public LabeledData(INDArray features, INDArray labels, List<String> classes) {
    this(features, labels, classes, List.of());
  }

  public DataSet toDataSet() {
    return new DataSet(features, labels);
  }

  public long size() {
    return features.size(0);
  }
}
