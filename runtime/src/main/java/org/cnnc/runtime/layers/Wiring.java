// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Collection;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;

/** What every configuration's {@code instantiate} does with the layer it makes, as DL4J's own do. */
final class Wiring {
  private Wiring() {}

  static <L extends Layer> L wire(L layer, NeuralNetConfiguration conf, Collection<TrainingListener> listeners,
      int index, INDArray params, boolean initialize) {
    OneDnn.init();
    layer.setListeners(listeners);
    layer.setIndex(index);
    layer.setParamsViewArray(params);
    layer.setParamTable(conf.getLayer().initializer().init(conf, params, initialize));
    layer.setConf(conf);
    return layer;
  }
}
