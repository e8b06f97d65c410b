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

  @Override
  public void execute() throws MojoExecutionException, MojoFailureException {
    if (execute(sourceDirectory, outputDirectory, "generate", true) != null) {
      project.addCompileSourceRoot(outputDirectory.getAbsolutePath());
    }
  }
}
