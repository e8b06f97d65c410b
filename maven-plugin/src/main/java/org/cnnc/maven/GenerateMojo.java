// SPDX-License-Identifier: Apache-2.0
package org.cnnc.maven;

import java.io.File;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/** Generates a Java class per model of the specs under {@code src/main/cnn}, as compile sources. */
@Mojo(name = "generate", defaultPhase = LifecyclePhase.GENERATE_SOURCES, threadSafe = true)
public class GenerateMojo extends AbstractCnnMojo {
  @Parameter(property = "cnnc.sourceDirectory", defaultValue = "${project.basedir}/src/main/cnn")
  private File sourceDirectory;

  @Parameter(property = "cnnc.outputDirectory", defaultValue = "${project.build.directory}/generated-sources/cnn")
  private File outputDirectory;

  /**
   * Also write each model's ONNX export ({@code <model>.onnx}) into {@link #onnxDirectory}, a
   * resource directory of the build (so the jar holds it): the network checked for ONNX, with the
   * weights of {@code <model>.npz} in the source directory when there is one, else seeded.
   */
  @Parameter(property = "cnnc.onnx", defaultValue = "false")
  private boolean onnx;

  @Parameter(property = "cnnc.onnxDirectory", defaultValue = "${project.build.directory}/generated-resources/cnn")
  private File onnxDirectory;

  @Override
  public void execute() throws MojoExecutionException, MojoFailureException {
    this.onnxOutput = onnx ? onnxDirectory : null;
    if (execute(sourceDirectory, outputDirectory, "generate", true) != null) {
      project.addCompileSourceRoot(outputDirectory.getAbsolutePath());
      if (onnx) {
        org.apache.maven.model.Resource resource = new org.apache.maven.model.Resource();
        resource.setDirectory(onnxDirectory.getAbsolutePath());
        project.addResource(resource);
      }
    }
  }
}
