// SPDX-License-Identifier: Apache-2.0
package org.cnnc.maven;

import java.io.File;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/** Generates a Java class per model of the specs under {@code src/test/cnn}, as test sources. */
@Mojo(name = "test-generate", defaultPhase = LifecyclePhase.GENERATE_TEST_SOURCES, threadSafe = true)
public class TestGenerateMojo extends AbstractCnnMojo {
  @Parameter(property = "cnnc.testSourceDirectory", defaultValue = "${project.basedir}/src/test/cnn")
  private File sourceDirectory;

  @Parameter(property = "cnnc.testOutputDirectory",
      defaultValue = "${project.build.directory}/generated-test-sources/cnn")
  private File outputDirectory;

  @Override
  public void execute() throws MojoExecutionException, MojoFailureException {
    if (execute(sourceDirectory, outputDirectory, "test-generate", true) != null) {
      project.addTestCompileSourceRoot(outputDirectory.getAbsolutePath());
    }
  }
}
