package org.cnnc.runtime.layers;

import java.util.Collection;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * DL4J's convolution layer configuration (same parameters, same {@code W}/{@code b} layout, same
 * inferred types), computed by cnnc's kernel ({@link ConvGemm}) instead of DL4J's.
 */
public class GemmConvolution extends ConvolutionLayer {
  private static final long serialVersionUID = 1L;

  /** For deserialization. */
  public GemmConvolution() {}

  public GemmConvolution(ConvolutionLayer.Builder builder) {
    super(builder);
  }

  @Override
  public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
      INDArray params, boolean initialize, DataType dataType) {
    return Wiring.wire(new GemmConvolutionLayer(conf, dataType), conf, listeners, index, params, initialize);
  }
}
